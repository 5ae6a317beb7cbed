-- Failed sign-ins per account name (a person's e-mail or an API client id,
-- known or not), shared by every instance: slows down, then locks out,
-- password guessing.
CREATE TABLE login_throttle (
    account          TEXT PRIMARY KEY,
    failures         INTEGER NOT NULL,
    first_failure_at TIMESTAMP NOT NULL,
    locked_until     TIMESTAMP
);
