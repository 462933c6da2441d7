//! How long the free text that users send may be. Every limit is enforced here, in the domain
//! (a 400 naming the field), whichever door the text came through, and the REST door publishes
//! the same constants as `maxLength`/`maxItems` in its OpenAPI document. Lengths count
//! characters (Unicode scalar values), as JSON Schema and Proxmox's own schema do.
//!
//! The numbers and `shown` (which shortens user input before an error message repeats it) live
//! in `model::limits`, where the browser build can read them too.

use crate::{Error, Result};

pub use model::limits::*;

/// A 400 naming `field` when `value` is longer than `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<()> {
    // Counting stops at the limit: a huge value costs no more than a short one.
    if value.chars().nth(max).is_some() {
        return Err(Error::validation(field, format!("{field}: at most {max} characters")));
    }
    Ok(())
}

/// A 400 naming `field` when a list has more than `max` items.
pub fn items<T>(field: &str, list: &[T], max: usize) -> Result<()> {
    if list.len() > max {
        return Err(Error::validation(field, format!("{field}: at most {max} entries")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_characters_and_name_the_field() {
        assert!(text("description", &"가".repeat(10), 10).is_ok(), "ten characters are ten, whatever their bytes");
        let e = text("description", &"a".repeat(11), 10).unwrap_err();
        assert!(matches!(&e, Error::Validation { field: Some(f), .. } if f == "description"), "{e}");
        assert!(e.to_string().contains("at most 10 characters"), "{e}");
        assert!(items("tags", &[1, 2, 3], 2).is_err());
        assert!(items("tags", &[1, 2], 2).is_ok());
    }
}
