//! Entities of the `prompt_lab` schema (seed 004): prompts with their
//! clarifying answers, test results, community templates, favorites, likes
//! and the public author card of published templates.

pub mod prompt_answers;
pub mod prompt_templates;
pub mod prompts;
pub mod template_authors;
pub mod template_likes;
pub mod test_results;
pub mod user_favorites;
