//! Keys → named [`Action`]s. The action enum is the one list of what a user can do;
//! `keymaps/default.toml` binds keys to action names, and the help overlay is generated
//! from both. Nothing else in the console looks at a key code, except the command line
//! taking typed text.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::Deserialize;

use super::user_file;

/// The embedded default keymap (k9s-like).
pub const DEFAULT_TOML: &str = include_str!("../../keymaps/default.toml");

/// Everything a user can ask of the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Up,
    Down,
    First,
    Last,
    ToggleDetail,
    Help,
    CommandLine,
    Cancel,
    Quit,
    Submit,
    Complete,
    Filter,
    Sort,
    ReverseSort,
    Pause,
    Resume,
    Scale,
    ResetBreaker,
    Silence,
    Shadow,
    Confirm,
    ToggleAll,
    NextDuration,
    ToggleScaleInOnly,
    More,
    Less,
    ViewFleet,
    ViewAlarms,
    ViewDiagnostics,
    ViewDecisions,
    ActionsOnly,
}

impl Action {
    /// Every action, in the order the help overlay lists them.
    pub const ALL: [Action; 31] = [
        Action::Up,
        Action::Down,
        Action::First,
        Action::Last,
        Action::ViewFleet,
        Action::ViewAlarms,
        Action::ViewDiagnostics,
        Action::ViewDecisions,
        Action::Filter,
        Action::ActionsOnly,
        Action::Sort,
        Action::ReverseSort,
        Action::ToggleDetail,
        Action::Pause,
        Action::Resume,
        Action::Scale,
        Action::ResetBreaker,
        Action::Silence,
        Action::Shadow,
        Action::Confirm,
        Action::ToggleAll,
        Action::NextDuration,
        Action::ToggleScaleInOnly,
        Action::More,
        Action::Less,
        Action::Help,
        Action::CommandLine,
        Action::Cancel,
        Action::Quit,
        Action::Submit,
        Action::Complete,
    ];

    /// The name used in keymap files.
    pub fn name(self) -> &'static str {
        match self {
            Action::Up => "up",
            Action::Down => "down",
            Action::First => "first",
            Action::Last => "last",
            Action::ToggleDetail => "toggle_detail",
            Action::Help => "help",
            Action::CommandLine => "command_line",
            Action::Cancel => "cancel",
            Action::Quit => "quit",
            Action::Submit => "submit",
            Action::Complete => "complete",
            Action::Filter => "filter",
            Action::Sort => "sort",
            Action::ReverseSort => "reverse_sort",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Scale => "scale",
            Action::ResetBreaker => "reset_breaker",
            Action::Silence => "silence",
            Action::Shadow => "shadow",
            Action::Confirm => "confirm",
            Action::ToggleAll => "toggle_all",
            Action::NextDuration => "next_duration",
            Action::ToggleScaleInOnly => "toggle_scale_in_only",
            Action::More => "more",
            Action::Less => "less",
            Action::ViewFleet => "view_fleet",
            Action::ViewAlarms => "view_alarms",
            Action::ViewDiagnostics => "view_diagnostics",
            Action::ViewDecisions => "view_decisions",
            Action::ActionsOnly => "actions_only",
        }
    }

    /// What it does, in the words of the help overlay.
    pub fn description(self) -> &'static str {
        match self {
            Action::Up => "select the row above (group, or decision in the log)",
            Action::Down => "select the row below",
            Action::First => "select the first row (the log then follows the newest)",
            Action::Last => "select the last row",
            Action::ToggleDetail => "show or hide the selected group's detail or decision in full",
            Action::Help => "show or hide this help",
            Action::CommandLine => "open the command line",
            Action::Cancel => "close the overlay, pane or command line; then back to the fleet",
            Action::Quit => "quit fleetdeck",
            Action::Submit => "run the command",
            Action::Complete => "complete the verb or group name",
            Action::Filter => "filter by name or instance type: a regex, ignoring case; !… inverts",
            Action::Sort => "sort by the next column (worst first; :sort COLUMN picks one)",
            Action::ReverseSort => "reverse the sort (best first)",
            Action::Pause => "pause automation of the selected group (asks first)",
            Action::Resume => "resume automation of the selected group (asks first)",
            Action::Scale => "force the selected group's capacity and hold it (asks first)",
            Action::ResetBreaker => "close the selected group's breaker trips (asks first)",
            Action::Silence => "mute the selected group's pages (asks first)",
            Action::Shadow => "toggle shadow mode of the selected group (asks first)",
            Action::Confirm => "do what the dialog says",
            Action::ToggleAll => "the selected group or the whole fleet",
            Action::NextDuration => "the next duration",
            Action::ToggleScaleInOnly => "pause everything or scale-in only",
            Action::More => "one instance more",
            Action::Less => "one instance less",
            Action::ViewFleet => "show the fleet table and detail",
            Action::ViewAlarms => "show every alarm, firing first",
            Action::ViewDiagnostics => "show fleetdeck's own log",
            Action::ViewDecisions => "show the decision log, newest first",
            Action::ActionsOnly => "decision log: changes and who did what only, or all",
        }
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
            format!("unknown action `{s}` (expected one of: {})", names.join(", "))
        })
    }
}

/// Where a key was pressed: bindings differ between browsing and typing a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Normal,
    CommandLine,
    /// A confirmation dialog is open.
    Dialog,
}

/// A key with its modifiers, as written in keymap files (`j`, `ctrl-c`, `pageup`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyBinding {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

const NAMED_KEYS: [(&str, KeyCode); 15] = [
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("space", KeyCode::Char(' ')),
];

impl KeyBinding {
    /// The binding a key event matches. Shift is dropped from characters: terminals
    /// disagree on whether `?` or `G` arrive with it, and the character already says it.
    pub fn from_event(event: &KeyEvent) -> KeyBinding {
        let mut modifiers = event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        if let KeyCode::Char(c) = event.code {
            if modifiers.contains(KeyModifiers::CONTROL) {
                // ctrl-c arrives as Char('c') + CONTROL; keep letters lowercase.
                return KeyBinding { code: KeyCode::Char(c.to_ascii_lowercase()), modifiers };
            }
        } else if event.code != KeyCode::BackTab {
            // BackTab is shift-tab already; some terminals add SHIFT to it, some do not.
            modifiers |= event.modifiers & KeyModifiers::SHIFT;
        }
        KeyBinding { code: event.code, modifiers }
    }
}

impl FromStr for KeyBinding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-").filter(|r| !r.is_empty()) {
                modifiers |= KeyModifiers::CONTROL;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-").filter(|r| !r.is_empty()) {
                modifiers |= KeyModifiers::ALT;
                rest = r;
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_control() => {
                let c = if modifiers.contains(KeyModifiers::CONTROL) { c.to_ascii_lowercase() } else { c };
                KeyCode::Char(c)
            }
            _ => {
                if let Some((_, code)) = NAMED_KEYS.iter().find(|(name, _)| *name == rest) {
                    *code
                } else if let Some(n) = rest.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    if !(1..=12).contains(&n) {
                        return Err(format!("unknown key `{s}`"));
                    }
                    KeyCode::F(n)
                } else {
                    return Err(format!("unknown key `{s}`"));
                }
            }
        };
        Ok(KeyBinding { code, modifiers })
    }
}

impl fmt::Display for KeyBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            code => match NAMED_KEYS.iter().find(|(_, c)| *c == code) {
                Some((name, _)) => f.write_str(name),
                None => write!(f, "{code:?}"),
            },
        }
    }
}

/// A keymap file that cannot be used; `offset` is where, in bytes, when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    #[error("{message}")]
    Toml { message: String, offset: Option<usize> },
    #[error("[{section}] `{key}`: {message}")]
    Binding { section: &'static str, key: String, message: String, offset: usize },
    #[error("no key in [normal] quits fleetdeck: bind one to \"quit\"")]
    NoQuit,
}

impl user_file::Located for KeymapError {
    fn line_col(&self, text: &str) -> (usize, usize) {
        let offset = match self {
            KeymapError::Toml { offset, .. } => offset.unwrap_or(0),
            KeymapError::Binding { offset, .. } => *offset,
            KeymapError::NoQuit => text.find("[normal]").unwrap_or(0),
        };
        crate::config::line_col(text, offset)
    }
}

/// The embedded presets: `default` (k9s-like) and `vim`.
pub const PRESETS: [(&str, &str); 2] = [("default", DEFAULT_TOML), ("vim", VIM_TOML)];
pub const VIM_TOML: &str = include_str!("../../keymaps/vim.toml");

/// The action name that removes a preset's binding in an override file.
const UNBIND: &str = "none";

type Section = BTreeMap<toml::Spanned<String>, toml::Spanned<String>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeymapFile {
    #[serde(default)]
    normal: Section,
    #[serde(default)]
    command_line: Section,
    #[serde(default)]
    dialog: Section,
}

/// Bindings per context.
#[derive(Clone, Debug, PartialEq)]
pub struct Keymap {
    normal: Vec<(KeyBinding, Action)>,
    command_line: Vec<(KeyBinding, Action)>,
    dialog: Vec<(KeyBinding, Action)>,
}

impl Keymap {
    /// A whole keymap from one file.
    pub fn from_toml(text: &str) -> Result<Keymap, KeymapError> {
        let empty = Keymap { normal: Vec::new(), command_line: Vec::new(), dialog: Vec::new() };
        empty.overlay(text)
    }

    /// This keymap with the bindings of `text` on top: a key it binds replaces the
    /// binding of the same key here, `key = "none"` removes it. Two names of one key in
    /// a table (`space` and `" "`) are a conflict; a keymap where no key quits is refused.
    pub fn overlay(&self, text: &str) -> Result<Keymap, KeymapError> {
        let file: KeymapFile = toml::from_str(text).map_err(|e| KeymapError::Toml {
            message: e.message().to_string(),
            offset: e.span().map(|span| span.start),
        })?;
        let merge = |name: &'static str, base: &[(KeyBinding, Action)], table: Section| {
            let mut out = base.to_vec();
            let mut seen: Vec<(KeyBinding, String)> = Vec::new();
            for (key, action) in table {
                let error = |message: String, offset: usize| KeymapError::Binding {
                    section: name,
                    key: key.get_ref().clone(),
                    message,
                    offset,
                };
                let binding = key.get_ref().parse::<KeyBinding>().map_err(|m| error(m, key.span().start))?;
                if let Some((_, first)) = seen.iter().find(|(b, _)| *b == binding) {
                    let message = format!("the same key as `{first}` in this table");
                    return Err(error(message, key.span().start));
                }
                seen.push((binding, key.get_ref().clone()));
                out.retain(|(b, _)| *b != binding);
                if action.get_ref() != UNBIND {
                    let parsed =
                        action.get_ref().parse::<Action>().map_err(|m| error(m, action.span().start))?;
                    out.push((binding, parsed));
                }
            }
            Ok(out)
        };
        let keymap = Keymap {
            normal: merge("normal", &self.normal, file.normal)?,
            command_line: merge("command_line", &self.command_line, file.command_line)?,
            dialog: merge("dialog", &self.dialog, file.dialog)?,
        };
        if !keymap.normal.iter().any(|(_, a)| *a == Action::Quit) {
            return Err(KeymapError::NoQuit);
        }
        Ok(keymap)
    }

    /// The preset called `name`.
    pub fn preset(name: &str) -> Option<Keymap> {
        PRESETS.iter().find(|(n, _)| *n == name).and_then(|(_, text)| Keymap::from_toml(text).ok())
    }

    /// The embedded default keymap. Should it ever fail to parse (a test parses it), the
    /// console still answers `q` and `ctrl-c` rather than trapping the user.
    pub fn builtin() -> Keymap {
        Keymap::from_toml(DEFAULT_TOML).unwrap_or_else(|_| {
            let q = KeyBinding { code: KeyCode::Char('q'), modifiers: KeyModifiers::NONE };
            let ctrl_c = KeyBinding { code: KeyCode::Char('c'), modifiers: KeyModifiers::CONTROL };
            let normal = vec![(q, Action::Quit), (ctrl_c, Action::Quit)];
            Keymap { normal, command_line: Vec::new(), dialog: Vec::new() }
        })
    }

    fn bindings(&self, context: Context) -> &[(KeyBinding, Action)] {
        match context {
            Context::Normal => &self.normal,
            Context::CommandLine => &self.command_line,
            Context::Dialog => &self.dialog,
        }
    }

    /// The action a key press means here, if any. Key releases mean nothing.
    pub fn action(&self, context: Context, event: &KeyEvent) -> Option<Action> {
        if event.kind == KeyEventKind::Release {
            return None;
        }
        let pressed = KeyBinding::from_event(event);
        self.bindings(context).iter().find(|(b, _)| *b == pressed).map(|(_, a)| *a)
    }

    /// The keys bound to an action, single characters first (`k, up`).
    pub fn keys_for(&self, context: Context, action: Action) -> Vec<KeyBinding> {
        let mut keys: Vec<KeyBinding> =
            self.bindings(context).iter().filter(|(_, a)| *a == action).map(|(b, _)| *b).collect();
        keys.sort_by_key(|k| (!matches!(k.code, KeyCode::Char(_)) || !k.modifiers.is_empty(), k.to_string()));
        keys
    }
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::builtin()
    }
}

/// The keymap in use, and what the user should be told about the choice.
#[derive(Clone, Debug)]
pub struct KeymapChoice {
    pub keymap: Keymap,
    /// Why the asked-for keymap is not (all) in use ("path:line:col: …; using the vim keymap").
    pub warning: Option<String>,
}

/// The keymap for `--keymap` `name_or_file` — a preset name, or a file laid over the
/// default preset — with the user's `overrides` file (if it exists) laid on top. A file
/// that cannot be used is named with file:line:col, and the preset runs without it.
pub fn choose(name_or_file: &str, overrides: Option<&std::path::Path>) -> KeymapChoice {
    let is_file = user_file::names_a_file(name_or_file);
    let (preset_name, mut warning) = match Keymap::preset(name_or_file) {
        Some(_) => (name_or_file, None),
        None if is_file => ("default", None),
        None => {
            let known: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
            let why = format!("no keymap `{name_or_file}` (presets: {})", known.join(", "));
            ("default", Some(why))
        }
    };
    let mut keymap = Keymap::preset(preset_name).unwrap_or_else(Keymap::builtin);
    // The file asked for is read (and missing is an error); the overrides only if present.
    let asked = is_file.then(|| std::path::PathBuf::from(name_or_file));
    let present = overrides.filter(|p| p.is_file()).map(|p| p.to_path_buf());
    for path in [asked, present].into_iter().flatten() {
        match user_file::parse(&path, |text| keymap.overlay(text)) {
            Ok(next) => keymap = next,
            Err(why) => warning = Some(why),
        }
    }
    let warning = warning.map(|w| format!("{w}; using the {preset_name} keymap"));
    KeymapChoice { keymap, warning }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::user_file::Located;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn embedded_default_keymap_parses_and_binds_the_documented_keys() {
        let keymap = Keymap::from_toml(DEFAULT_TOML).expect("keymaps/default.toml");
        let n = Context::Normal;
        let none = KeyModifiers::NONE;
        assert_eq!(keymap.action(n, &press(KeyCode::Char('j'), none)), Some(Action::Down));
        assert_eq!(keymap.action(n, &press(KeyCode::Down, none)), Some(Action::Down));
        assert_eq!(keymap.action(n, &press(KeyCode::Char('k'), none)), Some(Action::Up));
        assert_eq!(keymap.action(n, &press(KeyCode::Up, none)), Some(Action::Up));
        assert_eq!(keymap.action(n, &press(KeyCode::Enter, none)), Some(Action::ToggleDetail));
        assert_eq!(keymap.action(n, &press(KeyCode::Char('?'), KeyModifiers::SHIFT)), Some(Action::Help));
        assert_eq!(keymap.action(n, &press(KeyCode::Char(':'), none)), Some(Action::CommandLine));
        assert_eq!(keymap.action(n, &press(KeyCode::Char('q'), none)), Some(Action::Quit));
        assert_eq!(keymap.action(n, &press(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert_eq!(keymap.action(n, &press(KeyCode::Esc, none)), Some(Action::Cancel));
        assert_eq!(keymap.action(n, &press(KeyCode::Char('x'), none)), None);
        let c = Context::CommandLine;
        assert_eq!(keymap.action(c, &press(KeyCode::Enter, none)), Some(Action::Submit));
        assert_eq!(keymap.action(c, &press(KeyCode::Tab, none)), Some(Action::Complete));
        assert_eq!(keymap.action(c, &press(KeyCode::Char('q'), none)), None, "q is text while typing");
    }

    #[test]
    fn every_file_in_keymaps_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keymaps");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            Keymap::from_toml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seen += 1;
        }
        assert!(seen >= 1);
    }

    #[test]
    fn key_names_round_trip() {
        for name in ["j", "G", "?", ":", "ctrl-c", "alt-x", "enter", "esc", "pageup", "space", "f5"] {
            assert_eq!(name.parse::<KeyBinding>().unwrap().to_string(), name);
        }
    }

    #[test]
    fn unknown_keys_and_actions_are_named() {
        let err = Keymap::from_toml("[normal]\nfoo = \"up\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown key `foo`"), "{err}");
        let err = Keymap::from_toml("[normal]\nx = \"explode\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown action `explode`"), "{err}");
        assert!(Keymap::from_toml("[insert]\nx = \"up\"\n").is_err());
    }

    #[test]
    fn an_override_replaces_or_removes_a_presets_binding_and_keeps_the_rest() {
        let base = Keymap::preset("default").unwrap();
        let laid = base.overlay("[normal]\nx = \"quit\"\nq = \"none\"\nj = \"up\"\n").unwrap();
        let n = Context::Normal;
        let none = KeyModifiers::NONE;
        assert_eq!(laid.action(n, &press(KeyCode::Char('x'), none)), Some(Action::Quit));
        assert_eq!(laid.action(n, &press(KeyCode::Char('q'), none)), None, "q unbound");
        assert_eq!(laid.action(n, &press(KeyCode::Char('j'), none)), Some(Action::Up), "j rebound");
        assert_eq!(laid.action(n, &press(KeyCode::Down, none)), Some(Action::Down), "the rest kept");
    }

    #[test]
    fn two_names_of_one_key_conflict_and_a_keymap_without_quit_is_refused() {
        let text = "[normal]\nq = \"quit\"\nspace = \"up\"\n\" \" = \"down\"\n";
        let err = Keymap::from_toml(text).unwrap_err();
        assert!(err.to_string().contains("the same key as `"), "{err}");
        assert_eq!(err.line_col(text).0, 3, "{err}");
        let err = Keymap::from_toml("[normal]\nj = \"down\"\n").unwrap_err();
        assert_eq!(err, KeymapError::NoQuit);
        let err = Keymap::preset("default").unwrap().overlay("[normal]\nq = \"none\"\nctrl-c = \"none\"\n");
        assert_eq!(err, Err(KeymapError::NoQuit));
    }

    #[test]
    fn the_vim_preset_opens_the_detail_with_l_and_closes_it_with_h() {
        let vim = Keymap::preset("vim").expect("keymaps/vim.toml");
        let n = Context::Normal;
        let none = KeyModifiers::NONE;
        assert_eq!(vim.action(n, &press(KeyCode::Char('l'), none)), Some(Action::ToggleDetail));
        assert_eq!(vim.action(n, &press(KeyCode::Char('h'), none)), Some(Action::Cancel));
        assert_eq!(vim.action(n, &press(KeyCode::Char('n'), KeyModifiers::CONTROL)), Some(Action::Down));
        // Arrows, home, end and enter work in the vim keymap too, in the table and dialogs.
        for (code, action) in [
            (KeyCode::Up, Action::Up),
            (KeyCode::Down, Action::Down),
            (KeyCode::Home, Action::First),
            (KeyCode::End, Action::Last),
            (KeyCode::Enter, Action::ToggleDetail),
        ] {
            assert_eq!(vim.action(n, &press(code, none)), Some(action), "{code:?}");
        }
        assert_eq!(vim.action(Context::Dialog, &press(KeyCode::Up, none)), Some(Action::More));
        assert_eq!(vim.action(Context::Dialog, &press(KeyCode::Down, none)), Some(Action::Less));
        // Both keymaps reverse the sort with O.
        for keymap in [&vim, &Keymap::preset("default").unwrap()] {
            assert_eq!(
                keymap.action(n, &press(KeyCode::Char('O'), KeyModifiers::SHIFT)),
                Some(Action::ReverseSort)
            );
        }
        assert_ne!(vim, Keymap::preset("default").unwrap());
    }

    #[test]
    fn choosing_a_keymap_names_a_broken_file_with_its_line_and_keeps_the_preset() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("keymap.toml");
        std::fs::write(&user, "[normal]\nx = \"quit\"\n").unwrap();
        let chosen = choose("vim", Some(&user));
        assert!(chosen.warning.is_none());
        assert_eq!(
            chosen.keymap.action(Context::Normal, &press(KeyCode::Char('x'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        std::fs::write(&user, "[normal]\nx = \"quit\"\nz = \"explode\"\n").unwrap();
        let chosen = choose("vim", Some(&user));
        let warning = chosen.warning.unwrap();
        let expected = format!("{}:3:5: [normal] `z`: unknown action `explode`", user.display());
        assert!(warning.starts_with(&expected), "{warning}");
        assert!(warning.ends_with("; using the vim keymap"), "{warning}");
        assert_eq!(chosen.keymap, Keymap::preset("vim").unwrap());
        // A missing override file is no warning, even beside a keymap file; a missing
        // keymap file asked for, or an unknown preset, is.
        let absent = dir.path().join("absent.toml");
        assert!(choose("default", Some(&absent)).warning.is_none());
        std::fs::write(&user, "[normal]\nx = \"quit\"\n").unwrap();
        assert!(choose(user.to_str().unwrap(), Some(&absent)).warning.is_none());
        let missing = choose(absent.to_str().unwrap(), None).warning.unwrap();
        assert!(missing.starts_with(&absent.display().to_string()), "{missing}");
        let unknown = choose("emacs", None);
        assert_eq!(
            unknown.warning.unwrap(),
            "no keymap `emacs` (presets: default, vim); using the default keymap"
        );
    }

    #[test]
    fn backtab_matches_with_or_without_shift() {
        let keymap = Keymap::from_toml("[normal]\nbacktab = \"up\"\nq = \"quit\"\n").unwrap();
        for modifiers in [KeyModifiers::NONE, KeyModifiers::SHIFT] {
            assert_eq!(keymap.action(Context::Normal, &press(KeyCode::BackTab, modifiers)), Some(Action::Up));
        }
    }

    #[test]
    fn key_releases_are_ignored() {
        let mut release = press(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(Keymap::builtin().action(Context::Normal, &release), None);
    }

    #[test]
    fn help_lists_characters_before_named_keys() {
        let keys = Keymap::builtin().keys_for(Context::Normal, Action::Down);
        let names: Vec<String> = keys.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["j", "down"]);
    }
}
