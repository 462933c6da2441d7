pub mod coming_soon;
pub mod dashboard;
pub mod admin;
pub mod auth;
pub mod not_found;
pub mod profile;
pub mod jobs;
