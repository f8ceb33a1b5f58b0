//! Every style the console draws, by role (`warn`, `stale`, `selected`…), read from a
//! theme file. The view never names a colour: it asks the [`Theme`] for a role.
//!
//! Only the embedded dark preset exists today; light, high-contrast and `NO_COLOR`
//! themes are more files with the same roles (see [`Theme::monochrome`] for the one that
//! needs no file). Colour is never the only signal: the view adds text markers (`~`,
//! `!`, `x`) wherever a style carries meaning, so a colourless theme loses nothing.

use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// The embedded dark preset.
pub const DARK_TOML: &str = include_str!("../../themes/dark.toml");

/// A theme file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThemeError {
    #[error("theme is not valid TOML or misses a role: {0}")]
    Toml(String),
    #[error("theme role `{role}`: bad colour `{value}` (expected a name, an index 0-255 or #rrggbb)")]
    Colour { role: &'static str, value: String },
}

/// One style as written in a theme file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    dim: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underlined: bool,
    #[serde(default)]
    reversed: bool,
}

impl StyleSpec {
    fn to_style(&self, role: &'static str) -> Result<Style, ThemeError> {
        let colour = |value: &String| {
            Color::from_str(value).map_err(|_| ThemeError::Colour { role, value: value.clone() })
        };
        let mut style = Style::default();
        if let Some(fg) = &self.fg {
            style = style.fg(colour(fg)?);
        }
        if let Some(bg) = &self.bg {
            style = style.bg(colour(bg)?);
        }
        for (on, modifier) in [
            (self.bold, Modifier::BOLD),
            (self.dim, Modifier::DIM),
            (self.italic, Modifier::ITALIC),
            (self.underlined, Modifier::UNDERLINED),
            (self.reversed, Modifier::REVERSED),
        ] {
            if on {
                style = style.add_modifier(modifier);
            }
        }
        Ok(style)
    }
}

/// Declares the roles once: the [`Theme`] fields and the theme file's `[styles]` table
/// cannot drift apart, and a file missing a role is an error naming it.
macro_rules! theme_roles {
    ($($(#[doc = $doc:literal])* $role:ident,)*) => {
        /// Styles by role. Build with [`Theme::from_toml`], [`Theme::dark`] or
        /// [`Theme::monochrome`].
        #[derive(Clone, Debug, PartialEq)]
        pub struct Theme {
            pub name: String,
            $($(#[doc = $doc])* pub $role: Style,)*
        }

        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct StylesFile {
            $($role: StyleSpec,)*
        }

        impl StylesFile {
            fn into_theme(self, name: String) -> Result<Theme, ThemeError> {
                Ok(Theme { name, $($role: self.$role.to_style(stringify!($role))?,)* })
            }
        }
    };
}

theme_roles! {
    /// Plain text.
    base,
    /// Secondary text: units, separators, hints.
    muted,
    /// The top bar.
    header,
    /// The product name in the top bar.
    header_title,
    /// The READ-ONLY badge.
    badge_readonly,
    /// Badges that need attention now: engine stopped, stale data.
    badge_alert,
    /// Column headings of the fleet table.
    table_header,
    /// The selected row (patched over the cells' own styles).
    selected,
    /// Healthy.
    ok,
    /// A value past its threshold or SLO.
    warn,
    /// A failing backend, an error message.
    error,
    /// A value from a stale series.
    stale,
    /// Inline sparklines in the table.
    sparkline,
    /// Pane borders.
    border,
    /// Pane titles.
    title,
    /// Labels in the detail pane.
    label,
    /// Chart axes and their labels.
    chart_axis,
    chart_p50,
    chart_p95,
    chart_p99,
    /// The SLO line on the latency chart.
    chart_slo,
    chart_gpu_util,
    /// GPU memory, or KV-cache usage for vLLM groups.
    chart_memory,
    chart_queue,
    /// The status line at rest.
    status,
    /// A command the engine accepted.
    status_ok,
    /// A command refused or failed, a parse error.
    status_error,
    /// The `:` command line.
    command_line,
    /// Keys in the help overlay.
    help_key,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    styles: StylesFile,
}

impl Theme {
    /// Reads a theme file. Every role must be present, unknown roles are refused.
    pub fn from_toml(text: &str) -> Result<Theme, ThemeError> {
        let file: ThemeFile = toml::from_str(text).map_err(|e| ThemeError::Toml(e.to_string()))?;
        file.styles.into_theme(file.name)
    }

    /// The embedded dark preset; falls back to [`Theme::monochrome`] should the embedded
    /// file ever be broken (a test parses it, so it is not).
    pub fn dark() -> Theme {
        Theme::from_toml(DARK_TOML).unwrap_or_else(|_| Theme::monochrome())
    }

    /// No colour at all, only modifiers: what `NO_COLOR` will select.
    pub fn monochrome() -> Theme {
        let plain = Style::default();
        let bold = plain.add_modifier(Modifier::BOLD);
        let reversed = plain.add_modifier(Modifier::REVERSED);
        let dim = plain.add_modifier(Modifier::DIM);
        Theme {
            name: "monochrome".into(),
            base: plain,
            muted: dim,
            header: reversed,
            header_title: reversed.add_modifier(Modifier::BOLD),
            badge_readonly: bold,
            badge_alert: bold,
            table_header: plain.add_modifier(Modifier::UNDERLINED),
            selected: reversed,
            ok: plain,
            warn: bold,
            error: bold,
            stale: dim.add_modifier(Modifier::ITALIC),
            sparkline: plain,
            border: plain,
            title: bold,
            label: plain,
            chart_axis: plain,
            chart_p50: plain,
            chart_p95: bold,
            chart_p99: plain,
            chart_slo: bold,
            chart_gpu_util: plain,
            chart_memory: plain,
            chart_queue: plain,
            status: plain,
            status_ok: plain,
            status_error: bold,
            command_line: plain,
            help_key: bold,
        }
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::dark()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_dark_theme_parses() {
        let theme = Theme::from_toml(DARK_TOML).expect("themes/dark.toml");
        assert_eq!(theme.name, "dark");
        assert_eq!(theme.warn.fg, Some(Color::Yellow));
        assert!(theme.stale.add_modifier.contains(Modifier::DIM));
        assert_ne!(theme, Theme::monochrome());
    }

    #[test]
    fn every_file_in_themes_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("themes");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            Theme::from_toml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seen += 1;
        }
        assert!(seen >= 1);
    }

    #[test]
    fn missing_role_is_named() {
        let err = Theme::from_toml("name = \"x\"\n[styles]\nbase = {}\n").unwrap_err();
        assert!(err.to_string().contains("muted"), "{err}");
    }

    #[test]
    fn bad_colour_is_named_with_its_role() {
        let text = DARK_TOML.replace("warn = { fg = \"yellow\"", "warn = { fg = \"yelow\"");
        let err = Theme::from_toml(&text).unwrap_err();
        assert_eq!(err, ThemeError::Colour { role: "warn", value: "yelow".into() });
    }
}
