import pg from 'pg';

/**
 * Runs once before all test files: makes sure the PostgreSQL server the tests use answers,
 * with a message that says what to do when it does not.
 */
export default async function globalSetup() {
  const url = testServerUrl();
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new Error(
      `tests need a PostgreSQL server at ${url.replace(/:[^:@/]*@/, ':***@')} (set DATABASE_URL); ` +
        `could not connect: ${(error as Error).message}`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

export function testServerUrl(): string {
  return process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
}
