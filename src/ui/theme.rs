//! Every style the console draws, by role (`warn`, `stale`, `selected`…), read from a
//! theme file. The view never names a colour: it asks the [`Theme`] for a role.
//!
//! Three presets are embedded (`themes/dark.toml`, `light.toml`, `high-contrast.toml`);
//! a file `$XDG_CONFIG_HOME/fleetdeck/themes/NAME.toml` overrides the preset of that
//! name, and `--theme FILE` reads any file ([`choose`]). `NO_COLOR` selects
//! [`Theme::monochrome`], which needs no file. Colours are brought down to what the
//! terminal shows ([`ColourDepth`]: truecolor when `COLORTERM` says so, else 256 colours
//! when `TERM` says so, else the 16 ANSI colours), so a theme reads the same in tmux over
//! SSH. Colour is never the only signal: the view adds text markers (`~`, `!`, `x`)
//! wherever a style carries meaning, so a colourless theme loses nothing.

use std::path::Path;
use std::str::FromStr;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use super::user_file;

/// The embedded presets.
pub const DARK_TOML: &str = include_str!("../../themes/dark.toml");
pub const LIGHT_TOML: &str = include_str!("../../themes/light.toml");
pub const HIGH_CONTRAST_TOML: &str = include_str!("../../themes/high-contrast.toml");

/// Preset names and their files.
pub const PRESETS: [(&str, &str); 3] =
    [("dark", DARK_TOML), ("light", LIGHT_TOML), ("high-contrast", HIGH_CONTRAST_TOML)];

/// A theme file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThemeError {
    /// Not TOML, a role missing or unknown; `offset` is where, in bytes, when known.
    #[error("{message}")]
    Toml { message: String, offset: Option<usize> },
    #[error("role `{role}`: bad colour `{value}` (expected a name, an index 0-255 or #rrggbb)")]
    Colour { role: &'static str, value: String },
}

impl user_file::Located for ThemeError {
    /// 1-based line and column of the mistake in `text` (the role's line for a colour).
    fn line_col(&self, text: &str) -> (usize, usize) {
        let offset = match self {
            ThemeError::Toml { offset, .. } => offset.unwrap_or(0),
            ThemeError::Colour { role, value } => text
                .match_indices(role)
                .find(|(i, _)| text[..*i].ends_with('\n') || *i == 0)
                .and_then(|(i, _)| text[i..].find(value.as_str()).map(|v| i + v))
                .unwrap_or(0),
        };
        crate::config::line_col(text, offset)
    }
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

        impl Theme {
            /// Every role's style through `f`.
            fn map_styles(self, f: impl Fn(Style) -> Style) -> Theme {
                Theme { name: self.name, $($role: f(self.$role),)* }
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
    /// A value far past its threshold or SLO.
    severe,
    /// A value whose alarm fires; the "what is wrong now" line.
    firing,
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
    /// The capacity chart: desired, ready and warming instances.
    chart_desired,
    chart_ready,
    chart_warming,
    /// Predictive scaling's forecast (drawn dotted).
    chart_forecast,
    /// The marks of scaling events (changes of desired).
    chart_event,
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
        let file: ThemeFile = toml::from_str(text).map_err(|e| ThemeError::Toml {
            message: e.message().to_string(),
            offset: e.span().map(|span| span.start),
        })?;
        file.styles.into_theme(file.name)
    }

    /// The preset called `name`.
    pub fn preset(name: &str) -> Option<Theme> {
        PRESETS.iter().find(|(n, _)| *n == name).and_then(|(_, text)| Theme::from_toml(text).ok())
    }

    /// The theme as a terminal of `depth` shows it: colours brought down to the nearest
    /// it has, or [`Theme::monochrome`] without colour.
    pub fn for_depth(self, depth: ColourDepth) -> Theme {
        match depth {
            ColourDepth::TrueColor => self,
            ColourDepth::None => Theme::monochrome(),
            depth => self.map_styles(|style| Style {
                fg: style.fg.map(|c| depth.colour(c)),
                bg: style.bg.map(|c| depth.background(c)),
                ..style
            }),
        }
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
            severe: bold.add_modifier(Modifier::UNDERLINED),
            firing: reversed.add_modifier(Modifier::BOLD),
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
            chart_desired: bold,
            chart_ready: plain,
            chart_warming: dim,
            chart_forecast: plain,
            chart_event: plain,
            status: plain,
            status_ok: plain,
            status_error: bold,
            command_line: plain,
            help_key: bold,
        }
    }
}

/// `style` over `area`, as for a selected row; text whose colour that makes the same as
/// its background (muted grey on a 16-colour selection's dark grey) falls back to the
/// terminal's own foreground, so it stays legible.
pub fn highlight(buf: &mut Buffer, area: Rect, style: Style) {
    buf.set_style(area, style);
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &mut buf[(x, y)];
            if cell.fg == cell.bg && cell.bg != Color::Reset {
                cell.fg = Color::Reset;
            }
        }
    }
}

/// How many colours the terminal shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColourDepth {
    TrueColor,
    Ansi256,
    Ansi16,
    /// `NO_COLOR`: modifiers only.
    None,
}

impl ColourDepth {
    /// From the environment: `NO_COLOR` (set and not empty) → none; `COLORTERM`
    /// truecolor or 24bit → truecolor; a `TERM` with 256color (xterm-256color,
    /// tmux-256color, screen-256color) → 256; anything else → the 16 ANSI colours.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> ColourDepth {
        if var("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            ColourDepth::None
        } else if var("COLORTERM").is_some_and(|v| matches!(v.as_str(), "truecolor" | "24bit")) {
            ColourDepth::TrueColor
        } else if var("TERM").is_some_and(|v| v.contains("256color")) {
            ColourDepth::Ansi256
        } else {
            ColourDepth::Ansi16
        }
    }

    /// `colour` as this depth shows it: the nearest by RGB distance.
    pub fn colour(self, colour: Color) -> Color {
        match (self, colour) {
            (ColourDepth::TrueColor | ColourDepth::None, c) => c,
            (ColourDepth::Ansi256, Color::Rgb(r, g, b)) => Color::Indexed(nearest_256((r, g, b))),
            (ColourDepth::Ansi16, Color::Rgb(r, g, b)) => nearest_16((r, g, b)),
            (ColourDepth::Ansi16, Color::Indexed(i)) if i >= 16 => nearest_16(indexed_rgb(i)),
            (ColourDepth::Ansi16, Color::Indexed(i)) => ANSI16[usize::from(i)].0,
            (_, c) => c,
        }
    }

    /// A background `colour` as this depth shows it. In 16 colours a tinted background
    /// (the dark theme's selected row, #303a4a) would come down to black or white, what
    /// the terminal paints behind everything, and vanish: it takes the nearest of the
    /// other fourteen. Named colours are kept as they are.
    pub fn background(self, colour: Color) -> Color {
        let rgb = match (self, colour) {
            (ColourDepth::Ansi16, Color::Rgb(r, g, b)) => (r, g, b),
            (ColourDepth::Ansi16, Color::Indexed(i)) if i >= 16 => indexed_rgb(i),
            _ => return self.colour(colour),
        };
        ANSI16
            .iter()
            .filter(|(c, _)| !matches!(c, Color::Black | Color::White))
            .min_by_key(|(_, c)| distance(rgb, *c))
            .map_or(Color::Reset, |(c, _)| *c)
    }
}

/// The 16 ANSI colours and the RGB xterm gives them by default.
const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

/// The levels of the 6×6×6 colour cube of the 256-colour palette (indexes 16–231).
const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).unsigned_abs();
    d(a.0, b.0).pow(2) + d(a.1, b.1).pow(2) + d(a.2, b.2).pow(2)
}

/// The RGB of a 256-palette index.
fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI16[usize::from(i)].1,
        16..=231 => {
            let n = i - 16;
            (CUBE[usize::from(n / 36)], CUBE[usize::from(n / 6 % 6)], CUBE[usize::from(n % 6)])
        }
        _ => {
            let level = 8 + 10 * (i - 232);
            (level, level, level)
        }
    }
}

/// The nearest of the cube and the grey ramp (indexes 16–255; the first 16 are left
/// out, since terminals recolour them).
fn nearest_256(rgb: (u8, u8, u8)) -> u8 {
    (16..=255u8).min_by_key(|&i| distance(rgb, indexed_rgb(i))).unwrap_or(16)
}

fn nearest_16(rgb: (u8, u8, u8)) -> Color {
    ANSI16.iter().min_by_key(|(_, c)| distance(rgb, *c)).map_or(Color::Reset, |(c, _)| *c)
}

/// The theme the console draws with, and what the user should be told about the choice.
#[derive(Clone, Debug)]
pub struct ThemeChoice {
    pub theme: Theme,
    /// Why the asked-for theme is not the one in use ("path:line:col: …; using dark").
    pub warning: Option<String>,
}

/// The theme for `--theme` `name_or_file` — a preset name, overridden by
/// `user_dir/NAME.toml` when that exists, or a path to a `.toml` file — at `depth`. A
/// theme that cannot be used falls back to the preset (or dark), with a warning naming
/// file:line:col.
pub fn choose(name_or_file: &str, user_dir: Option<&Path>, depth: ColourDepth) -> ThemeChoice {
    let user_file = user_dir.map(|dir| dir.join(format!("{name_or_file}.toml"))).filter(|p| p.is_file());
    let file = if user_file::names_a_file(name_or_file) {
        Some(Path::new(name_or_file).to_path_buf())
    } else {
        user_file
    };
    let fallback_name = if Theme::preset(name_or_file).is_some() { name_or_file } else { "dark" };
    let fallback = || Theme::preset(fallback_name).unwrap_or_else(Theme::monochrome);
    let (theme, warning) = match file {
        Some(path) => match user_file::parse(&path, Theme::from_toml) {
            Ok(theme) => (theme, None),
            Err(why) => (fallback(), Some(format!("{why}; using {fallback_name}"))),
        },
        None => match Theme::preset(name_or_file) {
            Some(theme) => (theme, None),
            None => {
                let known: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
                let why = format!("no theme `{name_or_file}` (presets: {}); using dark", known.join(", "));
                (fallback(), Some(why))
            }
        },
    };
    ThemeChoice { theme: theme.for_depth(depth), warning }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::dark()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::user_file::Located;

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
    fn missing_role_is_named_where_the_table_is() {
        let text = "name = \"x\"\n[styles]\nbase = {}\n";
        let err = Theme::from_toml(text).unwrap_err();
        assert!(err.to_string().contains("muted"), "{err}");
        assert_eq!(err.line_col(text).0, 2, "{err}");
    }

    #[test]
    fn bad_colour_is_named_with_its_role_and_place() {
        let text = DARK_TOML.replace("warn = { fg = \"yellow\"", "warn = { fg = \"yelow\"");
        let err = Theme::from_toml(&text).unwrap_err();
        assert_eq!(err, ThemeError::Colour { role: "warn", value: "yelow".into() });
        let line = text.lines().position(|l| l.starts_with("warn =")).unwrap() + 1;
        assert_eq!(err.line_col(&text), (line, 16));
    }

    #[test]
    fn every_preset_parses_and_they_differ() {
        let themes: Vec<Theme> = PRESETS.iter().map(|(name, _)| Theme::preset(name).expect(name)).collect();
        for (theme, (name, _)) in themes.iter().zip(PRESETS) {
            assert_eq!(theme.name, name);
        }
        assert!(themes[0] != themes[1] && themes[1] != themes[2] && themes[0] != themes[2]);
    }

    #[test]
    fn the_colour_depth_follows_no_color_colorterm_and_term() {
        fn env<'a>(pairs: &'a [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        }
        let with_term = [("COLORTERM", "truecolor"), ("TERM", "xterm-256color")];
        assert_eq!(ColourDepth::from_env(env(&with_term)), ColourDepth::TrueColor);
        assert_eq!(ColourDepth::from_env(env(&[("TERM", "tmux-256color")])), ColourDepth::Ansi256);
        assert_eq!(ColourDepth::from_env(env(&[("TERM", "xterm")])), ColourDepth::Ansi16);
        assert_eq!(ColourDepth::from_env(env(&[])), ColourDepth::Ansi16);
        let no_color = [("NO_COLOR", "1"), ("COLORTERM", "truecolor")];
        assert_eq!(ColourDepth::from_env(env(&no_color)), ColourDepth::None);
        // An empty NO_COLOR does not count (no-color.org).
        assert_eq!(ColourDepth::from_env(env(&[("NO_COLOR", "")])), ColourDepth::Ansi16);
    }

    #[test]
    fn colours_come_down_to_the_nearest_the_terminal_has() {
        let rgb = Color::Rgb(0x30, 0x3a, 0x4a);
        // The dark theme's selection background: cube index 16 + 36·0 + 6·0 + 1 → (0,0,95)
        // is farther than grey 237 (58,58,58).
        assert_eq!(ColourDepth::Ansi256.colour(rgb), Color::Indexed(237));
        assert_eq!(ColourDepth::Ansi256.colour(Color::Rgb(255, 0, 0)), Color::Indexed(196));
        assert_eq!(ColourDepth::Ansi16.colour(Color::Rgb(250, 10, 10)), Color::LightRed);
        assert_eq!(ColourDepth::Ansi16.colour(Color::Indexed(196)), Color::LightRed);
        assert_eq!(ColourDepth::Ansi16.colour(Color::Indexed(3)), Color::Yellow);
        // Named colours are the terminal's own: kept at every depth.
        assert_eq!(ColourDepth::Ansi16.colour(Color::Cyan), Color::Cyan);
        let dark16 = Theme::dark().for_depth(ColourDepth::Ansi16);
        assert!(matches!(dark16.selected.bg, Some(c) if !matches!(c, Color::Rgb(..) | Color::Indexed(_))));
        assert_eq!(Theme::dark().for_depth(ColourDepth::None), Theme::monochrome());
    }

    #[test]
    fn a_tinted_background_stays_visible_in_16_colours() {
        // #303a4a is nearest black, the terminal's own background: the selected row
        // would not show. It becomes the nearest other colour, dark grey.
        assert_eq!(ColourDepth::Ansi16.colour(Color::Rgb(0x30, 0x3a, 0x4a)), Color::Black);
        assert_eq!(ColourDepth::Ansi16.background(Color::Rgb(0x30, 0x3a, 0x4a)), Color::DarkGray);
        assert_eq!(Theme::dark().for_depth(ColourDepth::Ansi16).selected.bg, Some(Color::DarkGray));
        // The light theme's, nearest white on a white terminal, the same way.
        assert_eq!(
            Theme::preset("light").unwrap().for_depth(ColourDepth::Ansi16).selected.bg,
            Some(Color::Gray)
        );
        // Named colours are meant as named, black included; other depths are unchanged.
        assert_eq!(ColourDepth::Ansi16.background(Color::Black), Color::Black);
        assert_eq!(ColourDepth::Ansi256.background(Color::Rgb(0x30, 0x3a, 0x4a)), Color::Indexed(237));
        // Every preset's selected row differs from the text on it at every depth.
        for (name, _) in PRESETS {
            for depth in [ColourDepth::TrueColor, ColourDepth::Ansi256, ColourDepth::Ansi16] {
                let theme = Theme::preset(name).unwrap().for_depth(depth);
                let selected = theme.base.patch(theme.selected);
                assert_ne!(selected.fg, selected.bg, "{name} at {depth:?}");
                assert!(
                    !matches!(selected.bg, None | Some(Color::Reset | Color::Black | Color::White)),
                    "{name} at {depth:?}: {:?}",
                    selected.bg
                );
            }
        }
    }

    #[test]
    fn choosing_a_theme_falls_back_to_a_preset_with_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let truecolor = ColourDepth::TrueColor;
        assert_eq!(choose("light", None, truecolor).theme.name, "light");
        assert!(choose("light", None, truecolor).warning.is_none());

        // A user file named like a preset overrides it; a broken one falls back to it.
        let user = dir.path().join("light.toml");
        std::fs::write(&user, LIGHT_TOML.replace("name = \"light\"", "name = \"my light\"")).unwrap();
        assert_eq!(choose("light", Some(dir.path()), truecolor).theme.name, "my light");
        std::fs::write(&user, LIGHT_TOML.replace("ok = { fg = \"#007a00\" }", "ok = { fg = \"grean\" }"))
            .unwrap();
        let broken = choose("light", Some(dir.path()), truecolor);
        assert_eq!(broken.theme.name, "light");
        let line = LIGHT_TOML.lines().position(|l| l.starts_with("ok =")).unwrap() + 1;
        let warning = broken.warning.unwrap();
        assert!(warning.starts_with(&format!("{}:{line}:14: role `ok`", user.display())), "{warning}");
        assert!(warning.ends_with("; using light"), "{warning}");

        // A file by path; an unknown key in it is placed; an unknown preset name is named.
        let file = dir.path().join("mine.toml");
        std::fs::write(&file, DARK_TOML.replace("[styles]\n", "[styles]\nbogus = {}\n")).unwrap();
        let odd = choose(file.to_str().unwrap(), None, truecolor);
        assert_eq!(odd.theme.name, "dark");
        let line = DARK_TOML.lines().position(|l| l == "[styles]").unwrap() + 2;
        assert!(
            odd.warning.unwrap().starts_with(&format!("{}:{line}:1: unknown field `bogus`", file.display()))
        );
        let unknown = choose("solarized", None, truecolor);
        assert_eq!(unknown.theme.name, "dark");
        assert_eq!(
            unknown.warning.unwrap(),
            "no theme `solarized` (presets: dark, light, high-contrast); using dark"
        );
        assert_eq!(choose("dark", None, ColourDepth::None).theme, Theme::monochrome());
    }
}
