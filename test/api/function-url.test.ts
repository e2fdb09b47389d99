/**
 * The function URL transport's mapping of AWS's payload format 2.0 (src/api/function-url.ts), field by field: the
 * parts the emulator of test/api/transports.ts cannot tell apart from node:http.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromFunctionUrl, toFunctionUrl } from '../../src/api/function-url.js';

describe('function URL payload 2.0', () => {
  it('the request: method, path and query, lower-case headers, cookies back into one Cookie header, always HTTPS', async () => {
    const req = fromFunctionUrl({ rawPath: '/v1/history', rawQueryString: 'type=override&type=window', headers: { 'Content-Type': 'application/json', host: 'abc.lambda-url.eu-west-1.on.aws' }, cookies: ['fw_session=s1', 'other=x'], requestContext: { domainName: 'abc.lambda-url.eu-west-1.on.aws', http: { method: 'get' } }, body: '{"a":1}' });
    assert.equal(req.method, 'GET');
    assert.equal(req.url, '/v1/history?type=override&type=window');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['cookie'], 'fw_session=s1; other=x');
    assert.equal(req.secure, true);
    assert.equal((await req.body(100)).toString(), '{"a":1}');
  });

  it('its own host is the domain AWS gives, never the Host header a client sends', () => {
    const req = fromFunctionUrl({ rawPath: '/', headers: { host: 'evil.example' }, requestContext: { domainName: 'abc.lambda-url.eu-west-1.on.aws', http: { method: 'POST' } } });
    assert.equal(req.ownHost, 'abc.lambda-url.eu-west-1.on.aws');
    assert.equal(fromFunctionUrl({ rawPath: '/', headers: { host: 'evil.example' } }).ownHost, undefined, 'no domain from AWS: none at all');
  });

  it('a base64 body is decoded; a body over the limit is refused with 413', async () => {
    const req = fromFunctionUrl({ rawPath: '/', body: Buffer.from('{"token":"x"}').toString('base64'), isBase64Encoded: true });
    assert.equal((await req.body(100)).toString(), '{"token":"x"}');
    await assert.rejects(req.body(5), (err: Error & { status?: number }) => err.status === 413);
  });

  it('the answer: Set-Cookie goes to cookies, text stays text, anything else is base64', () => {
    const out = toFunctionUrl({ status: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'set-cookie': 'fw_session=abc; Path=/; Secure' }, body: '{"ok":true}' });
    assert.deepEqual(out, { statusCode: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, cookies: ['fw_session=abc; Path=/; Secure'], body: '{"ok":true}', isBase64Encoded: false });
    const js = toFunctionUrl({ status: 200, headers: { 'content-type': 'text/javascript; charset=utf-8' }, body: Buffer.from('let a = "é";') });
    assert.equal(js.body, 'let a = "é";');
    assert.equal(js.isBase64Encoded, false);
    const png = toFunctionUrl({ status: 200, headers: { 'content-type': 'image/png' }, body: Buffer.from([0x89, 0x50, 0x4e, 0x47]) });
    assert.deepEqual([png.isBase64Encoded, png.body], [true, 'iVBORw==']);
    assert.deepEqual(toFunctionUrl({ status: 204, headers: {}, body: undefined }), { statusCode: 204, headers: {}, body: '', isBase64Encoded: false });
  });
});
