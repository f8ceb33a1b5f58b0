//! Where in the config text a key lives: dotted key paths (`groups[1].min`), the
//! span-preserving view of the document that maps a path to a byte range and a byte
//! offset back to a path, and byte offset → 1-based line and column.
//!
//! This module knows TOML's shape only, never what the keys mean; validation names a
//! path and this module finds it.

use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step in a key path: a table key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// A dotted key path such as `groups[1].sim.traffic.noise`; empty for the whole file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct KeyPath(Vec<Segment>);

impl KeyPath {
    pub(super) fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path extended by a table key.
    pub(super) fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_string()));
        KeyPath(segments)
    }

    /// This path extended by an array index.
    pub(super) fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        KeyPath(segments)
    }

    pub(super) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The parent path and the last key, if the path ends with a key.
    pub(super) fn split_last_key(&self) -> Option<(KeyPath, &str)> {
        match self.0.split_last()? {
            (Segment::Key(key), parent) => Some((KeyPath(parent.to_vec()), key)),
            (Segment::Index(_), _) => None,
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A syntactically valid TOML document with the byte span of every key and value.
pub(super) struct Document<'i> {
    root: Spanned<DeValue<'i>>,
}

impl<'i> Document<'i> {
    /// Parses the text, with the first syntax error if there is one. After a syntax
    /// error the document holds what toml could recover, enough to name the key a
    /// broken value belongs to (`min = 1 2` → `groups[0].min`) in many cases.
    pub(super) fn parse(text: &'i str) -> (Self, Option<toml::de::Error>) {
        let (table, errors) = DeTable::parse_recoverable(text);
        let span = table.span();
        let document = Document { root: Spanned::new(span, DeValue::Table(table.into_inner())) };
        (document, errors.into_iter().next())
    }

    /// The span of the value at `path`. A missing key falls back to its nearest present
    /// ancestor (a required key that is absent is reported at its table); the root falls
    /// back to the start of the file.
    ///
    /// Tables written as `[header]` or `[[header]]` span their header line only, which is
    /// where a reader looks for them anyway.
    pub(super) fn span_of(&self, path: &KeyPath) -> Range<usize> {
        let mut node = &self.root;
        let mut found = 0..0;
        for segment in &path.0 {
            match child(node, segment) {
                Some(child) => {
                    node = child;
                    found = child.span();
                }
                None => break,
            }
        }
        found
    }

    /// The span of the key that names `path`'s last segment, if it is a present key.
    /// Used where the key itself is the mistake (a second command key in one event).
    pub(super) fn key_span_of(&self, path: &KeyPath) -> Option<Range<usize>> {
        let (last, parent) = path.0.split_last()?;
        let Segment::Key(key) = last else { return None };
        let parent = KeyPath(parent.to_vec());
        let mut node = &self.root;
        for segment in &parent.0 {
            node = child(node, segment)?;
        }
        let DeValue::Table(table) = node.get_ref() else { return None };
        table.iter().find(|(k, _)| k.get_ref() == key).map(|(k, _)| k.span())
    }

    /// The string written at `path`, if there is one.
    pub(super) fn str_at(&self, path: &KeyPath) -> Option<&str> {
        let mut node = &self.root;
        for segment in &path.0 {
            node = child(node, segment)?;
        }
        node.get_ref().as_str()
    }

    /// The deepest key path whose key or value contains `offset` (root if none does):
    /// turns the span of a serde error back into the key it is about.
    pub(super) fn path_at(&self, offset: usize) -> KeyPath {
        path_within(&self.root, offset, KeyPath::root()).unwrap_or_default()
    }
}

/// The value one segment below `node`, if present.
fn child<'a, 'i>(node: &'a Spanned<DeValue<'i>>, segment: &Segment) -> Option<&'a Spanned<DeValue<'i>>> {
    match (segment, node.get_ref()) {
        (Segment::Key(key), DeValue::Table(table)) => {
            table.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
        }
        (Segment::Index(index), DeValue::Array(array)) => array.get(*index),
        _ => None,
    }
}

/// Children are searched even when their parent's span does not contain `offset`,
/// because an `[[array]]` table's span covers its header only, not its body.
fn path_within(node: &Spanned<DeValue<'_>>, offset: usize, here: KeyPath) -> Option<KeyPath> {
    let contains = |span: Range<usize>| span.start <= offset && offset < span.end.max(span.start + 1);
    match node.get_ref() {
        DeValue::Table(table) => table.iter().find_map(|(key, value)| {
            let path = here.key(key.get_ref());
            path_within(value, offset, path.clone())
                .or_else(|| (contains(key.span()) || contains(value.span())).then_some(path))
        }),
        DeValue::Array(array) => array.iter().enumerate().find_map(|(i, value)| {
            let path = here.index(i);
            path_within(value, offset, path.clone()).or_else(|| contains(value.span()).then_some(path))
        }),
        _ => None,
    }
}

/// 1-based line and column (in characters, not bytes) of a byte offset in `text`.
/// Offsets past the end, or inside a character, are clamped to a valid position.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_display_with_dots_and_indices() {
        let path = KeyPath::root().key("groups").index(1).key("sim").key("traffic");
        assert_eq!(path.to_string(), "groups[1].sim.traffic");
        assert_eq!(KeyPath::root().to_string(), "");
    }

    #[test]
    fn line_col_counts_characters_from_one() {
        let text = "a = 1\nname = \"é\" x\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        let x = text.find('x').unwrap();
        assert_eq!(line_col(text, x), (2, 12), "é is one column though two bytes");
        assert_eq!(line_col(text, 10_000), (3, 1));
    }

    #[test]
    fn span_of_finds_values_in_array_tables_and_falls_back_to_the_table() {
        let text = "[[groups]]\nname = \"a\"\n[[groups]]\nname = \"b\"\nmin = 3\n";
        let (doc, error) = Document::parse(text);
        assert!(error.is_none(), "{error:?}");
        let min = doc.span_of(&KeyPath::root().key("groups").index(1).key("min"));
        assert_eq!(&text[min], "3");
        let missing = doc.span_of(&KeyPath::root().key("groups").index(0).key("min"));
        assert_eq!(&text[missing], "[[groups]]");
        assert_eq!(doc.span_of(&KeyPath::root().key("nothing")), 0..0);
    }

    #[test]
    fn path_at_finds_the_deepest_key_under_an_offset() {
        let text = "[[groups]]\nname = \"a\"\n[groups.sim]\ntraffic = { shape = \"x\" }\n";
        let (doc, error) = Document::parse(text);
        assert!(error.is_none(), "{error:?}");
        let at = text.find("\"x\"").unwrap();
        assert_eq!(doc.path_at(at).to_string(), "groups[0].sim.traffic.shape");
        let key = text.find("name").unwrap();
        assert_eq!(doc.path_at(key).to_string(), "groups[0].name");
    }
}
