import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { gatewaySecrets } from '../schema.ts';

/**
 * The secret of this name that every gateway process on the database shares: made (256 random bits)
 * by whichever process asks first; the others read that one.
 */
export async function sharedSecret(db: Db, name: string): Promise<string> {
  await db
    .insert(gatewaySecrets)
    .values({ name, value: randomBytes(32).toString('base64url') })
    .onConflictDoNothing();
  const [row] = await db
    .select({ value: gatewaySecrets.value })
    .from(gatewaySecrets)
    .where(eq(gatewaySecrets.name, name));
  if (!row) throw new Error(`the shared secret ${name} could not be stored`);
  return row.value;
}
