import { describe, expect, it } from 'vitest';
import { locationSecrets, maskDbLocation, maskDbUrl, redactSecrets } from '../../src/ledger/mask.js';

/**
 * Masking of database locations: whatever `--db` holds, a malformed URL or a connection string of
 * another form, no password-like part survives, and what is not a secret stays readable.
 */
describe('maskDbUrl', () => {
  const cases: Array<[string, string, string]> = [
    // [input, the secret, what the masked text is]
    ['postgres://app:Hx7QLm2Vr9@db.internal:5432/app', 'Hx7QLm2Vr9', 'postgres://app:***@db.internal:5432/app'],
    ['postgres://app:Hx7Q#Lm2/Vr9?Tk4@db.internal/app', 'Hx7Q#Lm2/Vr9?Tk4', 'postgres://app:***@db.internal/app'],
    ['postgres://app:Hx7Q@Lm2@Vr9@db.internal/app', 'Hx7Q@Lm2@Vr9', 'postgres://app:***@db.internal/app'],
    [
      'postgres://ann@corp.example:Hx7QLm2Vr9@db.internal/app',
      'Hx7QLm2Vr9',
      'postgres://ann@corp.example:***@db.internal/app',
    ],
    ['postgres://app:Hx7Q:Lm2Vr9@db.internal/app', 'Hx7Q:Lm2Vr9', 'postgres://app:***@db.internal/app'],
    ['mysql://root:Hx7Q#Lm2@db.example/app', 'Hx7Q#Lm2', 'mysql://root:***@db.example/app'],
    [
      'jdbc:postgresql://db.internal:5432/app?user=app&password=Hx7QLm2Vr9&ssl=true',
      'Hx7QLm2Vr9',
      'jdbc:postgresql://db.internal:5432/app?user=app&password=***&ssl=true',
    ],
    ['postgres://db.internal/app?sslpassword=Hx7QLm2Vr9', 'Hx7QLm2Vr9', 'postgres://db.internal/app?sslpassword=***'],
    ['postgres://db.internal/app?PASSWORD=Hx7Q#Lm2', 'Hx7Q#Lm2', 'postgres://db.internal/app?PASSWORD=***'],
    [
      'host=db.internal port=5432 user=app password=Hx7QLm2Vr9 dbname=app',
      'Hx7QLm2Vr9',
      'host=db.internal port=5432 user=app password=*** dbname=app',
    ],
    [
      "host=db.internal password = 'Hx7Q Lm2\\'Vr9' dbname=app",
      "Hx7Q Lm2\\'Vr9",
      'host=db.internal password = *** dbname=app',
    ],
    ['Server=db;Database=app;User Id=sa;Pwd=Hx7QLm2Vr9;', 'Hx7QLm2Vr9', 'Server=db;Database=app;User Id=sa;Pwd=***'],
    [
      'connect failed for postgres://app:Hx7Q/Lm2@db.internal/app: refused',
      'Hx7Q/Lm2',
      'connect failed for postgres://app:***@db.internal/app: refused',
    ],
  ];
  it.each(cases)('%s', (input, secret, masked) => {
    expect(maskDbUrl(input)).toBe(masked);
    expect(maskDbUrl(input)).not.toContain(secret);
  });

  it('leaves what holds no secret as it was', () => {
    for (const s of [
      '/srv/app/data/app.db',
      'postgres://app@db.internal:5432/app',
      'postgres://db.internal/app?sslmode=require&user=app',
      'sqlite:data/credits.db',
    ]) {
      expect(maskDbUrl(s)).toBe(s);
    }
  });
});

describe('locationSecrets and maskDbLocation', () => {
  it('find a password holding spaces, quotes or percent-encoding, and remove it wherever it is echoed', () => {
    expect(locationSecrets('postgres://app:Hx7Q Lm2Vr9@db.internal/app')).toContain('Hx7Q Lm2Vr9');
    expect(locationSecrets("host=db password='Hx7Q Lm2Vr9' dbname=app")).toContain('Hx7Q Lm2Vr9');
    expect(locationSecrets('postgres://app:Hx7Q%23Lm2@db.internal/app')).toEqual(
      expect.arrayContaining(['Hx7Q%23Lm2', 'Hx7Q#Lm2']),
    );
    expect(locationSecrets('data/credits.db')).toEqual([]);
    const raw = 'postgres://app:Hx7Q Lm2Vr9@db.internal/app';
    expect(maskDbLocation(raw)).not.toMatch(/Hx7Q|Lm2Vr9/);
    // A mistyped URL read as a path: resolve() collapsed its //, the literal password still goes.
    expect(maskDbLocation('jdbc:mysql://root:Hx7QLm2Vr9@db/app', '/srv/jdbc:mysql:/root:Hx7QLm2Vr9@db/app')).toBe(
      '/srv/jdbc:mysql:/root:***@db/app',
    );
    expect(redactSecrets('role "app" with Hx7Q Lm2Vr9 failed', locationSecrets(raw))).toBe(
      'role "app" with *** failed',
    );
  });
});
