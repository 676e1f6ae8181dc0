-- What the tests' handler does: one row per executed request. test names
-- the test that made it, so tests sharing a database count their own.
-- parent is checked at commit (DEFERRABLE INITIALLY DEFERRED), so a handler
-- can make its transaction fail at commit by naming a parent that does not
-- exist.
CREATE TABLE effects (
    id     uuid   PRIMARY KEY,
    test   text   NOT NULL,
    label  text   NOT NULL,
    parent uuid   REFERENCES effects (id) DEFERRABLE INITIALLY DEFERRED
);
