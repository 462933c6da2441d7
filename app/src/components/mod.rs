pub mod icons;
pub mod language;
pub mod layout;
pub mod local_time;
pub mod theme;
pub mod confirm;
pub mod live;
pub mod notifications;
