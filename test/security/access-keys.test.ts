// Derived DynamoDB access keys: the secret follows from the id and the cluster secret, the role
// from the id; another cluster's secret, a changed id or a foreign id gives nothing that verifies.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { accessKeyLookup, credentialsFile, isAccessKeyId, mintAccessKey, roleOfAccessKey, secretAccessKeyOf } from '../../src/security/access-keys.ts';

const secret = Buffer.alloc(32, 7);
const other = Buffer.alloc(32, 8);

describe('access keys', () => {
  it('a minted key has the id rule, its role, and the secret every node derives', () => {
    for (const role of ['admin', 'user'] as const) {
      const key = mintAccessKey(secret, role, randomBytes);
      assert.ok(isAccessKeyId(key.accessKeyId), key.accessKeyId);
      assert.equal(key.accessKeyId.length, 28);
      assert.equal(roleOfAccessKey(key.accessKeyId), role);
      assert.match(key.secretAccessKey, /^[A-Za-z0-9+/]{40}$/);
      assert.equal(accessKeyLookup(secret)(key.accessKeyId), key.secretAccessKey);
      assert.notEqual(secretAccessKeyOf(other, key.accessKeyId), key.secretAccessKey);
    }
  });

  it('ids differ per mint and secrets per id', () => {
    const a = mintAccessKey(secret, 'user', randomBytes);
    const b = mintAccessKey(secret, 'user', randomBytes);
    assert.notEqual(a.accessKeyId, b.accessKeyId);
    assert.notEqual(a.secretAccessKey, b.secretAccessKey);
  });

  it('foreign or malformed ids have no secret and no role', () => {
    for (const id of ['AKIAIOSFODNN7EXAMPLE', 'DKVX2345678901234567', 'dkvaaaaaaaaaaaaaaaaa', 'DKVA', '', 'DKVAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
      assert.equal(accessKeyLookup(secret)(id), undefined, id);
      assert.equal(roleOfAccessKey(id), undefined, id);
    }
  });

  it('an id of the right form that this cluster did not mint has no secret (its tag does not match)', () => {
    const key = mintAccessKey(secret, 'user', randomBytes);
    assert.equal(accessKeyLookup(other)(key.accessKeyId), undefined, 'another cluster did not mint it');
    // Any change of a character (the role letter included) breaks the tag.
    for (let i = 3; i < 28; i++) {
      const c = key.accessKeyId[i] === 'A' ? 'U' : 'A';
      const forged = key.accessKeyId.slice(0, i) + c + key.accessKeyId.slice(i + 1);
      assert.equal(accessKeyLookup(secret)(forged), undefined, forged);
    }
    assert.equal(accessKeyLookup(secret)('DKVAAAAAAAAAAAAAAAAAAAAAAAAA'), undefined);
  });

  it('writes an AWS shared credentials file', () => {
    const key = mintAccessKey(secret, 'admin', randomBytes);
    assert.equal(credentialsFile(key), `[default]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`);
  });
});
