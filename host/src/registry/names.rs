//! Names people choose (users, procuratorates, datasets): NFKC-normalised, within one script (or
//! Han with Latin, as Chinese names and codes mix), and never confusable with a name already taken,
//! so `аdmin` (with a Cyrillic а) cannot pass for `admin` in a log or a grant.

use unicode_normalization::UnicodeNormalization as _;

use super::{Registry, RegistryError, Result};

/// Check that `name` is a usable name: letters, digits, `-`, `_`, `.`; 1-64 characters; not
/// starting with `.`; NFKC-normalised; letters from one script (Han may mix with Latin).
pub fn check_name(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !ok {
        return Err(RegistryError::Invalid(format!(
            "{kind} name {} must be 1-64 letters, digits, '-', '_' or '.', not starting with '.'",
            crate::text::quote(name)
        )));
    }
    let normal: String = name.nfkc().collect();
    if normal != name {
        return Err(RegistryError::Invalid(format!(
            "{kind} name {} is not in normal form (NFKC): write it as {}",
            crate::text::quote(name),
            crate::text::quote(&normal)
        )));
    }
    let mut scripts: Vec<Script> = name.chars().filter(|c| c.is_alphabetic()).map(script).collect();
    scripts.sort();
    scripts.dedup();
    let allowed = matches!(scripts.as_slice(), [] | [_] | [Script::Latin, Script::Han]);
    if !allowed {
        return Err(RegistryError::Invalid(format!(
            "{kind} name {} mixes letters of several scripts ({}): a name uses one script (Chinese may mix with Latin)",
            crate::text::quote(name),
            scripts.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

/// The scripts a name may be written in; anything else counts as one script of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Script {
    Latin,
    Han,
    Cyrillic,
    Greek,
    Other,
}

fn script(c: char) -> Script {
    match c as u32 {
        0x41..=0x5A | 0x61..=0x7A | 0xC0..=0x24F => Script::Latin,
        0x370..=0x3FF => Script::Greek,
        0x400..=0x52F => Script::Cyrillic,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F => Script::Han,
        _ => Script::Other,
    }
}

/// What a name looks like (after the idea of UTS #39's skeletons): case folded, look-alike
/// letters of other scripts mapped to the Latin letter they imitate, `1`/`0` to `l`/`o`, `rn` to `m`.
pub fn skeleton(name: &str) -> String {
    let folded: String = name
        .nfkc()
        // A capital I is an l in most faces; fold it before case is.
        .map(|c| if c == 'I' { 'l' } else { c })
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'а' | 'α' => 'a',
            'с' | 'ϲ' => 'c',
            'ԁ' => 'd',
            'е' | 'ε' => 'e',
            'ɡ' => 'g',
            'һ' => 'h',
            'і' | 'ι' | 'ı' => 'i',
            '1' | '|' => 'l',
            'ј' => 'j',
            'κ' | 'к' => 'k',
            'ο' | 'о' | '0' | 'σ' => 'o',
            'р' | 'ρ' => 'p',
            'ԛ' => 'q',
            'ѕ' => 's',
            'τ' | 'т' => 't',
            'υ' => 'u',
            'ν' | 'ѵ' => 'v',
            'ԝ' | 'ω' => 'w',
            'х' | 'χ' => 'x',
            'у' | 'γ' => 'y',
            'ᴢ' => 'z',
            c => c,
        })
        .collect();
    folded.replace("rn", "m").replace(['-', '_', '.'], "")
}

impl Registry {
    /// Refuse a new `kind` name that looks like one already in `table.column` (a different
    /// name with the same skeleton).
    pub async fn check_new_name(&self, kind: &str, name: &str, table: &str, column: &str) -> Result<()> {
        check_name(kind, name)?;
        use sqlx::Row;
        let rows = sqlx::query(&format!("SELECT DISTINCT {column} AS name FROM {table}"))
            .fetch_all(self.db.pool())
            .await?;
        let wanted = skeleton(name);
        for row in &rows {
            let existing: String = row.try_get("name")?;
            if existing != name && skeleton(&existing) == wanted {
                return Err(RegistryError::Invalid(format!(
                    "{kind} name {} looks like the existing {kind} {}: choose a name that cannot be mistaken for it",
                    crate::text::quote(name),
                    crate::text::quote(&existing)
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_names_are_refused() {
        assert!(check_name("user", "admin").is_ok());
        assert!(check_name("procuratorate", "杭州市西湖区").is_ok());
        assert!(check_name("procuratorate", "浙江-A1").is_ok(), "Han with Latin");
        assert!(check_name("user", "админ").is_ok(), "all Cyrillic is one script");
        let mixed = check_name("user", "аdmin").expect_err("Cyrillic а with Latin");
        assert!(mixed.to_string().contains("several scripts"), "{mixed}");
        let wide = check_name("user", "ａｄｍｉｎ").expect_err("fullwidth");
        assert!(wide.to_string().contains("NFKC"), "{wide}");
        assert_eq!(skeleton("сор"), skeleton("cop"));
        assert_eq!(skeleton("Admin"), skeleton("admin"));
        assert_eq!(skeleton("rnallory"), skeleton("mallory"));
        assert_eq!(skeleton("county-a1"), skeleton("county_al"));
        assert_eq!(skeleton("Ian"), skeleton("lan"));
        assert_ne!(skeleton("mail"), skeleton("mall"));
        assert_ne!(skeleton("alice"), skeleton("bob"));
    }
}
