-- Courses, lessons, enrollments, progress, certificates and learners' names.
-- Ids are UUIDv7 strings made by the service; user ids come from auth's tokens
-- and events (no foreign key: the users live in auth's database).

-- The catalogue searches with the 'english' text search configuration, named
-- in the generated column and in every query (to_tsvector needs a constant
-- regconfig to be immutable, and a query in another configuration would not
-- match the stored lexemes). 'english' stems ("databases" finds "Database",
-- "programming" finds "program") and drops stop words; 'simple' would make a
-- student guess the exact word form the instructor used. Titles in other
-- languages still match word for word, they only miss English stemming.
CREATE TABLE courses (
    id             uuid        PRIMARY KEY,
    instructor_id  uuid        NOT NULL,
    title          text        NOT NULL,
    description    text        NOT NULL,
    price_amount   bigint,
    price_currency char(3),
    status         text        NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    published_at   timestamptz,
    search         tsvector    GENERATED ALWAYS AS (
                       setweight(to_tsvector('english'::regconfig, title), 'A') ||
                       setweight(to_tsvector('english'::regconfig, description), 'B')
                   ) STORED,
    -- Free (both NULL) or a positive amount in a currency: never half a price.
    CONSTRAINT courses_price_valid CHECK (
        (price_amount IS NULL AND price_currency IS NULL) OR
        (price_amount > 0 AND price_currency ~ '^[A-Z]{3}$')),
    CONSTRAINT courses_status_valid CHECK (status IN ('draft', 'published')),
    -- The catalogue's keyset is (published_at, id): a published course
    -- without published_at would fall out of it.
    CONSTRAINT courses_published_at_valid CHECK ((status = 'published') = (published_at IS NOT NULL))
);
-- The catalogue when browsing: newest first, one index range per page.
CREATE INDEX courses_catalogue_idx ON courses (published_at DESC, id DESC) WHERE status = 'published';
-- The catalogue when searching. Drafts are never searched, so they stay out.
CREATE INDEX courses_search_idx ON courses USING gin (search) WHERE status = 'published';

CREATE TABLE lessons (
    id         uuid        PRIMARY KEY,
    course_id  uuid        NOT NULL CONSTRAINT lessons_course_fk REFERENCES courses (id),
    position   integer     NOT NULL CHECK (position > 0),
    title      text        NOT NULL,
    content    text        NOT NULL,
    created_at timestamptz NOT NULL,
    -- Also the index that lists a course's lessons in order and counts them.
    CONSTRAINT lessons_course_position_key UNIQUE (course_id, position)
);

CREATE TABLE enrollments (
    id             uuid        PRIMARY KEY,
    course_id      uuid        NOT NULL CONSTRAINT enrollments_course_fk REFERENCES courses (id),
    user_id        uuid        NOT NULL,
    instructor_id  uuid        NOT NULL,  -- the course's, for the events finance pays by
    status         text        NOT NULL,
    cancel_reason  text,
    -- What the student pays, copied from the course at enrolment so that a
    -- later price change does not alter a payment in flight.
    price_amount   bigint,
    price_currency char(3),
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    activated_at   timestamptz,
    completed_at   timestamptz,
    CONSTRAINT enrollments_status_valid CHECK (status IN ('pending_payment', 'active', 'cancelled', 'completed')),
    CONSTRAINT enrollments_price_valid CHECK (
        (price_amount IS NULL AND price_currency IS NULL) OR
        (price_amount > 0 AND price_currency ~ '^[A-Z]{3}$'))
);
-- One live enrollment per student and course, enforced here so that
-- concurrent requests cannot both pass a read-then-insert check; a cancelled
-- enrollment leaves the index, so the student may enrol again.
CREATE UNIQUE INDEX enrollments_live_key ON enrollments (user_id, course_id) WHERE status <> 'cancelled';
-- A student's enrollments, newest first.
CREATE INDEX enrollments_user_idx ON enrollments (user_id, created_at DESC, id DESC);
-- The payment-timeout scan: only pending rows, oldest first.
CREATE INDEX enrollments_pending_idx ON enrollments (created_at) WHERE status = 'pending_payment';

CREATE TABLE lesson_completions (
    enrollment_id uuid        NOT NULL CONSTRAINT lesson_completions_enrollment_fk REFERENCES enrollments (id),
    lesson_id     uuid        NOT NULL CONSTRAINT lesson_completions_lesson_fk REFERENCES lessons (id),
    completed_at  timestamptz NOT NULL,
    -- Completing a lesson twice records it once (INSERT … ON CONFLICT DO
    -- NOTHING); the key also counts an enrollment's completions.
    PRIMARY KEY (enrollment_id, lesson_id)
);

CREATE TABLE certificates (
    id            uuid        PRIMARY KEY,
    enrollment_id uuid        NOT NULL CONSTRAINT certificates_enrollment_key UNIQUE
                              CONSTRAINT certificates_enrollment_fk REFERENCES enrollments (id),
    user_id       uuid        NOT NULL,
    course_id     uuid        NOT NULL CONSTRAINT certificates_course_fk REFERENCES courses (id),
    -- Title and name as signed: the certificate must not change when the
    -- course is renamed or the learner changes their name.
    course_title  text        NOT NULL,
    learner_name  text        NOT NULL,
    issued_at     timestamptz NOT NULL,
    key_id        text        NOT NULL,
    signature     text        NOT NULL
);
-- A user's certificates, newest first.
CREATE INDEX certificates_user_idx ON certificates (user_id, issued_at DESC, id DESC);

-- Learners' names, from azora.auth.user.registered, printed on certificates.
CREATE TABLE learners (
    user_id    uuid        PRIMARY KEY,
    name       text        NOT NULL,
    updated_at timestamptz NOT NULL
);
