/**
 * The instance's id from the EC2 instance metadata service, version 2 only (fix: the seed's watcher spoke IMDSv1):
 * a session token from PUT /latest/api/token, then GET /latest/meta-data/instance-id with it.
 */
const TOKEN_TTL_SECONDS = 21_600;

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
}

export async function imdsInstanceId(endpoint: string, timeoutMs = 2000, attempts = 3): Promise<string> {
  const base = endpoint.replace(/\/+$/, '');
  let last = '';
  for (let i = 0; i < attempts; i++) {
    try {
      const t = await fetch(`${base}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) }, signal: AbortSignal.timeout(timeoutMs) });
      if (!t.ok) throw new IdentityError(`PUT /latest/api/token answered ${t.status}`);
      const token = (await t.text()).trim();
      const r = await fetch(`${base}/latest/meta-data/instance-id`, { headers: { 'x-aws-ec2-metadata-token': token }, signal: AbortSignal.timeout(timeoutMs) });
      if (!r.ok) throw new IdentityError(`GET /latest/meta-data/instance-id answered ${r.status}`);
      const id = (await r.text()).trim();
      if (!/^i-[A-Za-z0-9-]{1,63}$/.test(id)) throw new IdentityError(`the metadata service returned ${JSON.stringify(id.slice(0, 80))}, not an instance id`);
      return id;
    } catch (err) {
      last = err instanceof Error ? ((err.cause as { code?: string; message?: string } | undefined)?.code ?? (err.cause as { message?: string } | undefined)?.message ?? err.message) : String(err);
      if (i + 1 < attempts) await new Promise((r) => setTimeout(r, 500 * 2 ** i));
    }
  }
  throw new IdentityError(`cannot read the instance id from the metadata service at ${base} (IMDSv2): ${last}; off EC2, give --instance-id`);
}
