/**
 * A fake STS for IAM logins: it checks each request's signature with the AWS SDK's own signer and the session token
 * of the test's keys, then answers GetCallerIdentity as STS does (XML), with the ARN the key stands for.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

/** A test key: its secret, session token, and the ARN STS answers for it. */
export interface StsKey {
  readonly secret: string;
  readonly token: string;
  readonly arn: string;
}

/** SHA-256 for the SDK signer, on node:crypto. */
type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: Data): string | Uint8Array => (typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
class Sha256 {
  private readonly h;
  constructor(secret?: Data) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: Data): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

/** The SDK's signature of a request with these headers (the reference the agent's signer must match). */
export async function sdkAuthorization(url: string, headers: Record<string, string>, body: string, key: string, secret: string, token: string | undefined, region: string, date: Date): Promise<string> {
  const u = new URL(url);
  const signer = new SignatureV4({ credentials: { accessKeyId: key, secretAccessKey: secret, ...(token === undefined ? {} : { sessionToken: token }) }, region, service: 'sts', sha256: Sha256, applyChecksum: false });
  const signed = await signer.sign({ method: 'POST', protocol: u.protocol, hostname: u.hostname, ...(u.port === '' ? {} : { port: Number(u.port) }), path: u.pathname, query: {}, headers, body }, { signingDate: date });
  return String(signed.headers['authorization']);
}

function xmlError(code: string, message: string): string {
  return `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`;
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** A fake STS: checks the signature with the SDK signer and the session token, then answers GetCallerIdentity. */
export function fakeSts(seen: IncomingMessage['headers'][], KEYS: Readonly<Record<string, StsKey>>): Server {
  return createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      seen.push(req.headers);
      const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/sts\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]+)$/.exec(req.headers.authorization ?? '');
      const key = KEYS[auth?.[1] ?? ''];
      if (!auth || key === undefined || req.headers['x-amz-security-token'] !== key.token) {
        res.writeHead(403).end(xmlError('InvalidClientTokenId', 'The security token included in the request is invalid.'));
        return;
      }
      const signedNames = (auth[4] ?? '').split(';');
      const headers: Record<string, string> = {};
      for (const n of signedNames) if (n !== 'x-amz-date' && n !== 'x-amz-security-token') headers[n] = String(req.headers[n] ?? '');
      const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(String(req.headers['x-amz-date']));
      const date = new Date(Date.UTC(Number(d?.[1]), Number(d?.[2]) - 1, Number(d?.[3]), Number(d?.[4]), Number(d?.[5]), Number(d?.[6])));
      const expected = await sdkAuthorization(`http://${String(req.headers.host)}/`, headers, body, auth[1] ?? '', key.secret, key.token, auth[3] ?? '', date);
      if (expected !== req.headers.authorization) {
        res.writeHead(403).end(xmlError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.'));
        return;
      }
      if (body !== 'Action=GetCallerIdentity&Version=2011-06-15') {
        res.writeHead(400).end(xmlError('InvalidAction', 'not GetCallerIdentity'));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/xml' }).end(`<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${key.arn}</Arn><UserId>AROAEXAMPLE:${key.arn.split('/').at(-1) ?? ''}</UserId><Account>${key.arn.split(':')[4] ?? ''}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>`);
    })();
  });
}

