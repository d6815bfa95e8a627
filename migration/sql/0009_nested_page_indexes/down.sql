DROP INDEX IF EXISTS chat.idx_chat_messages_session_page;
DROP INDEX IF EXISTS prompt_lab.idx_test_results_prompt_page;
DROP INDEX IF EXISTS lift.idx_resolutions_session_page;
DROP INDEX IF EXISTS lift.idx_sessions_user_created;
