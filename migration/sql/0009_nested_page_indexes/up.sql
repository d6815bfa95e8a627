-- Indexes for the nested pages of the API whose children grow without
-- bound. A nested connection (a conversation's messages, a prompt's test
-- runs, a session's hole resolutions) is read per parent as
-- `WHERE parent = $p ORDER BY <keys> LIMIT n` (graphql::pagination::
-- children_pages). With an index on the parent and the whole keyset order
-- (the ordering's column, then the tiebreaks), PostgreSQL reads the page's
-- rows straight from the index in order and stops after n; without it, it
-- reads and sorts every child of the parent (all 10,000 messages of a long
-- conversation for a 20-message page).
--
-- Where RLS filters the children by `user_id = auth.uid()`, the index has
-- `user_id` right after the parent. The planner takes `parent = $p AND
-- user_id = <viewer>` for independent conditions and expects about one row;
-- with `user_id` outside the index it then prefers a BitmapAnd of the
-- parent and user indexes followed by a sort of every child (measured:
-- 4.1 ms for 20 conversations of 40 messages), while with both equalities
-- in the index the ordered index scan is cheaper even by its estimate.
-- A conversation's messages all have its owner's user_id, so for them the
-- index order is the message order.
--
-- The seed's own indexes stay: they serve its other queries.
--
-- Also here, for the same reason at the root: `liftSessions` lists the
-- viewer's sessions newest first (RLS: `user_id = auth.uid()`), and the
-- seed indexes `user_id` and `created_at` only separately, so a user with
-- many sessions had all of them read and sorted for every page.
CREATE INDEX idx_sessions_user_created
    ON lift.sessions (user_id, created_at DESC, id DESC);

-- Conversation history, oldest or newest first: (timestamp, created_at, id).
CREATE INDEX idx_chat_messages_session_page
    ON chat.chat_messages (session_id, user_id, message_timestamp, created_at, id);

-- The viewer's test runs of a prompt, newest first: (created_at, id).
CREATE INDEX idx_test_results_prompt_page
    ON prompt_lab.test_results (prompt_id, user_id, created_at, id);

-- A session's hole resolutions, oldest first: (created_at, id). RLS checks
-- the session's owner, not a column of the row.
CREATE INDEX idx_resolutions_session_page
    ON lift.hole_resolutions (session_id, created_at, id);
