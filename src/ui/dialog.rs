//! Confirmation dialogs for the actions that change the fleet: pause, resume, force
//! scale, reset breaker, silence, shadow. Each states exactly what will happen — to which
//! groups, for how long, until when — before anything is sent, and builds the same
//! [`Command`] the `:` command line would. A scale beyond the group's max needs a second
//! confirmation. The dialog's own keys are named actions of the keymap's `[dialog]`
//! table, listed at its foot.

use std::time::Duration;

use crate::model::PauseMode;
use crate::model::{Timestamp, format_duration};
use crate::protocol::{Command, ControlKind, GroupSnapshot, Snapshot, Target};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::app::App;
use super::format;
use super::keymap::{Action, Context};

/// Durations a pause offers (None: until someone resumes), first the default.
const PAUSE_FOR: [Option<Duration>; 5] = [
    Some(Duration::from_secs(30 * 60)),
    Some(Duration::from_secs(3600)),
    Some(Duration::from_secs(4 * 3600)),
    None,
    Some(Duration::from_secs(15 * 60)),
];

/// Durations a silence or a hold offers, first the default.
const SILENCE_FOR: [Duration; 4] = [
    Duration::from_secs(3600),
    Duration::from_secs(4 * 3600),
    Duration::from_secs(15 * 60),
    Duration::from_secs(30 * 60),
];
const HOLD_FOR: [Duration; 4] = [
    Duration::from_secs(20 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(4 * 3600),
    Duration::from_secs(5 * 60),
];

/// Which change the dialog confirms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialogKind {
    Pause {
        scale_in_only: bool,
    },
    Resume,
    /// Force desired to `desired` and hold it; `beyond_max_confirmed` once the second
    /// confirmation of a count above max was given.
    Scale {
        desired: u32,
        beyond_max_confirmed: bool,
    },
    ResetBreaker,
    Silence,
    /// Turn shadow mode `on` (true) or off.
    Shadow {
        on: bool,
    },
    /// Leave the console, whose engine autoscales the `stops` groups (it holds their
    /// leases): they stop autoscaling with it.
    Quit {
        stops: Vec<String>,
    },
}

/// An open dialog.
#[derive(Clone, Debug, PartialEq)]
pub struct Dialog {
    pub kind: DialogKind,
    pub group: String,
    /// The whole fleet rather than the selected group (not for a scale).
    pub all: bool,
    /// Index into the kind's durations.
    pub duration: usize,
    /// The selected group's desired, min, max and hard cap, as the newest snapshot has
    /// them ([`Dialog::refresh`]): a dialog left open says what confirming does now.
    current: u32,
    min: u32,
    max: u32,
    hard_cap: u32,
    /// One instance's hourly cost, and the policy's hourly budget, for a scale's $/h.
    unit_cost: f64,
    budget: Option<f64>,
    /// How many groups the fleet has, for "all 3 groups".
    groups: usize,
    /// What stops or limits each group of the fleet now, for what a resume or a reset
    /// really does.
    fleet: Vec<Controls>,
    /// Now as the console counts it (engine clock), for "until 14:30 UTC".
    now: Timestamp,
    /// Whether the scale count has been typed into: the first digit replaces the count
    /// the dialog proposed, the next ones append.
    count_typed: bool,
}

/// What stops or limits one group now, from its snapshot's controls.
#[derive(Clone, Debug, PartialEq)]
struct Controls {
    name: String,
    paused: bool,
    shadow: bool,
    /// Open breaker trips: (text, closes only by its condition).
    trips: Vec<(String, bool)>,
}

impl Controls {
    fn of(group: &GroupSnapshot) -> Controls {
        let has = |kind| group.controls.iter().any(|c| c.kind == kind);
        Controls {
            name: group.spec.name.clone(),
            paused: has(ControlKind::Pause),
            shadow: has(ControlKind::Shadow),
            trips: group
                .controls
                .iter()
                .filter(|c| c.kind == ControlKind::Breaker)
                .map(|c| (c.text.clone(), c.clears_itself))
                .collect(),
        }
    }
}

/// "llm-chat", "llm-chat and vision", "llm-chat, vision and embeddings".
fn listed(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// What a key did to the dialog.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Stay,
    Cancel,
    Send(Command),
    Quit,
}

impl Dialog {
    /// A dialog of `kind` on `group` (the selected one), as the snapshot shows it now.
    pub fn open(kind: DialogKind, group: &GroupSnapshot, snapshot: &Snapshot) -> Dialog {
        let mut dialog = Dialog { group: group.spec.name.clone(), ..Dialog::on_fleet(kind, snapshot) };
        dialog.read(group);
        dialog
    }

    /// Takes the group's figures from a newer snapshot, so that "from N", "until" and
    /// the checks against min, max and the hard cap are those of now, not of when the
    /// dialog opened. A group gone from the snapshot keeps its last figures.
    pub fn refresh(&mut self, snapshot: &Snapshot) {
        self.now = snapshot.taken_at;
        self.groups = snapshot.groups.len();
        self.fleet = snapshot.groups.iter().map(Controls::of).collect();
        if let Some(group) = snapshot.groups.iter().find(|g| g.spec.name == self.group) {
            self.read(group);
        }
    }

    /// Now as the console counts it, for "until about …" between snapshots.
    pub fn set_now(&mut self, now: Timestamp) {
        self.now = now;
    }

    fn read(&mut self, group: &GroupSnapshot) {
        self.current = group.capacity.map_or(group.spec.desired, |c| c.desired);
        (self.min, self.max, self.hard_cap) = (group.spec.min, group.spec.max, group.spec.hard_cap());
        (self.unit_cost, self.budget) = (group.spec.hourly_cost_usd, group.hourly_budget_usd);
    }

    /// The groups the change applies to: the whole fleet, or the selected group.
    fn targets(&self) -> impl Iterator<Item = &Controls> {
        self.fleet.iter().filter(|c| self.all || c.name == self.group)
    }

    /// A dialog of `kind` about no group in particular.
    fn on_fleet(kind: DialogKind, snapshot: &Snapshot) -> Dialog {
        Dialog {
            kind,
            group: String::new(),
            all: false,
            duration: 0,
            current: 0,
            min: 0,
            max: 0,
            hard_cap: 0,
            unit_cost: 0.0,
            budget: None,
            groups: snapshot.groups.len(),
            fleet: snapshot.groups.iter().map(Controls::of).collect(),
            now: snapshot.taken_at,
            count_typed: false,
        }
    }

    /// The force-scale dialog starts one above current desired (within max).
    pub fn scale(group: &GroupSnapshot, snapshot: &Snapshot) -> Dialog {
        let mut dialog =
            Dialog::open(DialogKind::Scale { desired: 0, beyond_max_confirmed: false }, group, snapshot);
        let start = dialog.current.saturating_add(1).min(dialog.max).max(dialog.min);
        dialog.kind = DialogKind::Scale { desired: start, beyond_max_confirmed: false };
        dialog
    }

    /// The reset dialog, on the whole fleet when the selected group has no open trip but
    /// others have. (The console offers none when no group has one.)
    pub fn reset_breaker(group: &GroupSnapshot, snapshot: &Snapshot) -> Dialog {
        let mut dialog = Dialog::open(DialogKind::ResetBreaker, group, snapshot);
        let selected_clear = dialog.targets().all(|c| c.trips.is_empty());
        dialog.all = selected_clear && dialog.fleet.iter().any(|c| !c.trips.is_empty());
        dialog
    }

    /// The quit dialog: `stops` are the groups this console's engine autoscales.
    pub fn quit(stops: Vec<String>, snapshot: &Snapshot) -> Dialog {
        Dialog::on_fleet(DialogKind::Quit { stops }, snapshot)
    }

    /// The shadow dialog proposes the opposite of the group's mode now.
    pub fn shadow(group: &GroupSnapshot, snapshot: &Snapshot) -> Dialog {
        let on = !group.controls.iter().any(|c| c.kind == ControlKind::Shadow);
        Dialog::open(DialogKind::Shadow { on }, group, snapshot)
    }

    /// What a resume really does: which groups the policy drives again, and which of
    /// them still do not act (shadow mode, an open breaker trip).
    fn resume_lines(&self) -> Vec<String> {
        let paused: Vec<&Controls> = self.targets().filter(|c| c.paused).collect();
        if paused.is_empty() {
            let who = if self.all { "no group".to_string() } else { self.who() };
            let verb = if self.all { "is paused" } else { "is not paused" };
            return vec![format!("{who} {verb}: nothing changes.")];
        }
        let names = |keep: fn(&Controls) -> bool| {
            listed(&paused.iter().filter(|c| keep(c)).map(|c| c.name.as_str()).collect::<Vec<_>>())
        };
        let acting = names(|c| !c.shadow);
        let mut lines = Vec::new();
        if !acting.is_empty() {
            lines.push(format!("The policy acts on {acting} again from the next tick."));
        }
        let shadowed = names(|c| c.shadow);
        if !shadowed.is_empty() {
            lines.push(format!(
                "{shadowed}: the pause lifts, but shadow mode stays: decisions are shown as \"would …\", never acted on, until shadow is turned off."
            ));
        }
        let tripped = names(|c| !c.trips.is_empty());
        if !tripped.is_empty() {
            lines.push(format!("{tripped}: an open circuit-breaker trip still limits it (R to reset)."));
        }
        lines.push("Holds stay.".into());
        lines
    }

    /// What a reset really does: the trips it closes, and those only their condition
    /// closes, which stay open.
    fn reset_lines(&self) -> Vec<String> {
        let mut closes = Vec::new();
        let mut stays = Vec::new();
        for group in self.targets() {
            for (text, clears_itself) in &group.trips {
                let line = format!("{}: {text}", group.name);
                if *clears_itself { stays.push(line) } else { closes.push(line) }
            }
        }
        if closes.is_empty() && stays.is_empty() {
            let mut lines =
                vec![format!("{} has no open circuit-breaker trip: nothing changes.", self.who())];
            let elsewhere: Vec<&str> =
                self.fleet.iter().filter(|c| !c.trips.is_empty()).map(|c| c.name.as_str()).collect();
            if !self.all && !elsewhere.is_empty() {
                lines.push(format!(
                    "{} {}: a switches to all groups.",
                    listed(&elsewhere),
                    if elsewhere.len() == 1 { "has one" } else { "have some" }
                ));
            }
            return lines;
        }
        let mut lines = Vec::new();
        if !closes.is_empty() {
            lines.push("Closes:".into());
            lines.extend(closes.into_iter().map(|l| format!("  {l}")));
            lines.push(
                "Automation resumes unless something else (a pause, a hold, shadow mode) stops it.".into(),
            );
        }
        if !stays.is_empty() {
            lines.push("Stays open — a reset cannot close it, only its condition can:".into());
            lines.extend(stays.into_iter().map(|l| format!("  {l}")));
        }
        lines
    }

    /// What the fleet will cost at `desired` against now, and against the budget.
    fn cost_change(&self, desired: u32) -> String {
        let (from, to) = (f64::from(self.current) * self.unit_cost, f64::from(desired) * self.unit_cost);
        let change = to - from;
        let sign = if change < 0.0 { "−" } else { "+" };
        let mut line = format!(
            "Cost at desired: {} → {} ({sign}{}).",
            format::usd_per_hour(from),
            format::usd_per_hour(to),
            format::usd_per_hour(change.abs())
        );
        match self.budget {
            Some(budget) if to > budget => line.push_str(&format!(
                " Over the budget of {}: the budget caps automated scale-out, not a hold.",
                format::usd_per_hour(budget)
            )),
            Some(budget) => line.push_str(&format!(" Budget {}.", format::usd_per_hour(budget))),
            None => {}
        }
        line
    }

    fn target(&self) -> Target {
        if self.all { Target::All } else { Target::Group(self.group.clone()) }
    }

    fn who(&self) -> String {
        if self.all { format!("all {} groups", self.groups) } else { self.group.clone() }
    }

    fn until(&self, duration: Duration) -> String {
        crate::model::words::clock(self.now.plus(duration))
    }

    fn pause_for(&self) -> Option<Duration> {
        PAUSE_FOR[self.duration % PAUSE_FOR.len()]
    }

    fn silence_for(&self) -> Duration {
        SILENCE_FOR[self.duration % SILENCE_FOR.len()]
    }

    fn hold_for(&self) -> Duration {
        HOLD_FOR[self.duration % HOLD_FOR.len()]
    }

    /// The title line.
    pub fn title(&self) -> String {
        match &self.kind {
            DialogKind::Pause { .. } => format!("pause {}?", self.who()),
            DialogKind::Resume => format!("resume {}?", self.who()),
            DialogKind::Scale { desired, .. } => format!("scale {} to {desired}?", self.group),
            DialogKind::ResetBreaker => format!("reset the circuit breaker of {}?", self.who()),
            DialogKind::Silence => format!("silence {}?", self.who()),
            DialogKind::Shadow { on: true } => format!("shadow {}?", self.who()),
            DialogKind::Shadow { on: false } => format!("act again on {}?", self.who()),
            DialogKind::Quit { .. } => "quit fleetdeck?".into(),
        }
    }

    /// Exactly what confirming does, in sentences.
    pub fn what_happens(&self) -> Vec<String> {
        let who = self.who();
        match &self.kind {
            DialogKind::Pause { scale_in_only } => {
                let how_long = match self.pause_for() {
                    Some(d) => format!("for {} (until {})", format_duration(d), self.until(d)),
                    None => "until someone resumes it".to_string(),
                };
                let what = if *scale_in_only {
                    format!("Automated scale-in of {who} stops {how_long}; it may still scale out.")
                } else {
                    format!("Automated changes to {who} stop {how_long}: nothing changes its capacity.")
                };
                vec![what, "Alarms, paging and forced scales still work; :resume lifts it.".into()]
            }
            DialogKind::Resume => self.resume_lines(),
            DialogKind::Scale { desired, beyond_max_confirmed } => {
                let hold = self.hold_for();
                let mut lines = vec![
                    format!(
                        "Desired capacity of {} goes from {} to {desired} when the engine applies it.",
                        self.group, self.current
                    ),
                    self.cost_change(*desired),
                    format!(
                        "It is held there for {} from then (until about {}): the policy does not change it before.",
                        format_duration(hold),
                        self.until(hold)
                    ),
                ];
                if *desired < self.min {
                    lines.push(format!(
                        "{desired} is below min {}: it cannot be sent. Type a count from {} up.",
                        self.min, self.min
                    ));
                } else if *desired > self.hard_cap {
                    lines.push(format!(
                        "{desired} is above the hard cap of {} (hard_max, default 2 × max): no command passes it. Type a count up to {}.",
                        self.hard_cap, self.hard_cap
                    ));
                } else if *desired > self.max {
                    lines.push(format!(
                        "{desired} is above max {}: max is raised for the hold only.",
                        self.max
                    ));
                    lines.push(if *beyond_max_confirmed {
                        "Confirm once more to send it.".into()
                    } else {
                        "Beyond max: it takes two confirmations.".into()
                    });
                }
                lines
            }
            DialogKind::ResetBreaker => self.reset_lines(),
            DialogKind::Silence => {
                let d = self.silence_for();
                vec![
                    format!(
                        "Pages for {who} are muted for {} (until {}).",
                        format_duration(d),
                        self.until(d)
                    ),
                    "Alarms are still evaluated and shown; one still firing then pages then.".into(),
                ]
            }
            DialogKind::Shadow { on: true } => {
                vec![format!("{who}: decisions are made and shown as \"would …\", never acted on.")]
            }
            DialogKind::Shadow { on: false } => vec![format!("{who}: decisions are acted on again.")],
            DialogKind::Quit { stops } => {
                let verb = if stops.len() == 1 { "stops" } else { "stop" };
                vec![
                    format!(
                        "{} {verb} autoscaling: this console's engine holds the lease, and it stops with the console.",
                        stops.join(", ")
                    ),
                    "Another engine takes over once the lease expires; `fleetdeck --auto` autoscales without a console."
                        .into(),
                ]
            }
        }
    }

    /// The dialog's keys that do something here, for its foot.
    pub fn actions(&self) -> Vec<(Action, String)> {
        let mut out = vec![(Action::Confirm, self.confirm_word().to_string())];
        match &self.kind {
            DialogKind::Pause { scale_in_only } => {
                out.push((Action::NextDuration, "duration".into()));
                let other = if *scale_in_only { "pause everything" } else { "scale-in only" };
                out.push((Action::ToggleScaleInOnly, other.into()));
            }
            DialogKind::Silence => out.push((Action::NextDuration, "duration".into())),
            DialogKind::Scale { .. } => {
                out.push((Action::More, "+1".into()));
                out.push((Action::Less, "−1".into()));
                out.push((Action::NextDuration, "hold".into()));
            }
            _ => {}
        }
        if self.offers_all() {
            let other = if self.all { "this group only" } else { "all groups" };
            out.push((Action::ToggleAll, other.into()));
        }
        out.push((Action::Cancel, "cancel".into()));
        out
    }

    /// Whether the change can be made to the whole fleet instead (a scale is one group's;
    /// quitting is not a change to groups).
    fn offers_all(&self) -> bool {
        !matches!(self.kind, DialogKind::Scale { .. } | DialogKind::Quit { .. })
    }

    fn confirm_word(&self) -> &'static str {
        match self.kind {
            DialogKind::Scale { desired, beyond_max_confirmed }
                if desired > self.max && desired <= self.hard_cap =>
            {
                if beyond_max_confirmed {
                    "confirm (2 of 2)"
                } else {
                    "confirm (1 of 2)"
                }
            }
            DialogKind::Quit { .. } => "quit",
            _ => "confirm",
        }
    }

    /// Applies one of the dialog's actions.
    pub fn act(&mut self, action: Action) -> Outcome {
        match action {
            Action::Cancel => return Outcome::Cancel,
            Action::Confirm => return self.confirm(),
            Action::ToggleAll if self.offers_all() => self.all = !self.all,
            Action::NextDuration => self.duration += 1,
            Action::ToggleScaleInOnly => {
                if let DialogKind::Pause { scale_in_only } = &mut self.kind {
                    *scale_in_only = !*scale_in_only;
                }
            }
            Action::More | Action::Less => {
                if let DialogKind::Scale { desired, beyond_max_confirmed } = &mut self.kind {
                    *desired = if action == Action::More {
                        desired.saturating_add(1).min(self.hard_cap.max(self.min))
                    } else {
                        desired.saturating_sub(1).max(self.min)
                    };
                    *beyond_max_confirmed = false;
                }
            }
            _ => {}
        }
        Outcome::Stay
    }

    /// A digit typed into the scale dialog's count. The first replaces the proposed count
    /// (`s` `2` `0` asks for 20, not for the proposal with 20 after it).
    pub fn digit(&mut self, digit: u32) {
        if let DialogKind::Scale { desired, beyond_max_confirmed } = &mut self.kind {
            let kept = if self.count_typed { desired.saturating_mul(10) } else { 0 };
            *desired = kept.saturating_add(digit).min(100_000);
            *beyond_max_confirmed = false;
            self.count_typed = true;
        }
    }

    /// Backspace in the scale dialog's count: edits the count shown, proposed or typed.
    pub fn erase(&mut self) {
        if let DialogKind::Scale { desired, beyond_max_confirmed } = &mut self.kind {
            *desired /= 10;
            *beyond_max_confirmed = false;
            self.count_typed = true;
        }
    }

    fn confirm(&mut self) -> Outcome {
        let target = self.target();
        let (pause_for, hold_for, silence_for) = (self.pause_for(), self.hold_for(), self.silence_for());
        let command = match &mut self.kind {
            DialogKind::Pause { scale_in_only } => Command::Pause {
                target,
                duration: pause_for,
                mode: if *scale_in_only { PauseMode::ScaleInOnly } else { PauseMode::Full },
            },
            DialogKind::Resume => Command::Resume { target },
            DialogKind::Scale { desired, beyond_max_confirmed } => {
                if *desired < self.min || *desired > self.hard_cap {
                    return Outcome::Stay;
                }
                let beyond_max = *desired > self.max;
                if beyond_max && !*beyond_max_confirmed {
                    *beyond_max_confirmed = true;
                    return Outcome::Stay;
                }
                Command::ForceScale {
                    group: self.group.clone(),
                    desired: *desired,
                    hold: hold_for,
                    beyond_max,
                }
            }
            DialogKind::ResetBreaker => Command::ResetBreaker { target },
            DialogKind::Silence => Command::Silence { target, duration: silence_for },
            DialogKind::Shadow { on } => Command::Shadow { target, on: *on },
            DialogKind::Quit { .. } => return Outcome::Quit,
        };
        Outcome::Send(command)
    }
}

/// Widest a dialog gets.
const WIDTH: u16 = 72;

/// Draws the dialog centred over `area`: the title, what will happen, then its keys.
pub fn render(app: &App, dialog: &Dialog, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    let theme = &app.theme;
    let mut lines: Vec<Line<'static>> =
        dialog.what_happens().into_iter().map(|l| Line::styled(l, theme.base)).collect();
    lines.push(Line::default());
    let mut keys = Vec::new();
    for (action, what) in dialog.actions() {
        let Some(key) = app.keymap.keys_for(Context::Dialog, action).first().map(ToString::to_string) else {
            continue;
        };
        if !keys.is_empty() {
            keys.push(Span::styled("  ", theme.muted));
        }
        keys.push(Span::styled(key, theme.help_key));
        keys.push(Span::styled(format!(" {what}"), theme.muted));
    }
    lines.push(Line::from(keys));
    let width = WIDTH.min(area.width);
    let inner = usize::from(width.saturating_sub(2)).max(1);
    // Wrapped height: each line's width over the inner width, at least one row.
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX).min(area.height);
    let popup =
        Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    Clear.render(popup, buf);
    let block = Block::bordered()
        .border_style(theme.warn)
        .title(Span::styled(format!(" {} ", dialog.title()), theme.title));
    Paragraph::new(lines).block(block).wrap(Wrap { trim: true }).style(theme.base).render(popup, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::fixtures;

    fn chat() -> (Snapshot, usize) {
        let fleet = fixtures::fleet();
        let i = fleet.groups.iter().position(|g| g.spec.name == "llm-chat").unwrap();
        (fleet, i)
    }

    #[test]
    fn a_pause_says_for_how_long_and_until_when_and_sends_exactly_that() {
        let (fleet, i) = chat();
        let mut d = Dialog::open(DialogKind::Pause { scale_in_only: false }, &fleet.groups[i], &fleet);
        let until = crate::model::words::clock(fleet.taken_at.plus(Duration::from_secs(1800)));
        assert_eq!(
            d.what_happens()[0],
            format!(
                "Automated changes to llm-chat stop for 30m (until {until}): nothing changes its capacity."
            )
        );
        d.act(Action::ToggleScaleInOnly);
        d.act(Action::NextDuration);
        d.act(Action::ToggleAll);
        assert_eq!(d.title(), format!("pause all {} groups?", fleet.groups.len()));
        assert!(d.what_happens()[0].starts_with("Automated scale-in of all"), "{:?}", d.what_happens());
        let sent = d.act(Action::Confirm);
        assert_eq!(
            sent,
            Outcome::Send(Command::Pause {
                target: Target::All,
                duration: Some(Duration::from_secs(3600)),
                mode: PauseMode::ScaleInOnly
            })
        );
        // Cycling reaches "until someone resumes it".
        d.act(Action::NextDuration);
        d.act(Action::NextDuration);
        assert!(d.what_happens()[0].contains("until someone resumes it"), "{:?}", d.what_happens());
        assert_eq!(d.act(Action::Cancel), Outcome::Cancel);
    }

    #[test]
    fn a_scale_beyond_max_needs_a_second_confirmation_and_never_goes_below_min() {
        let (fleet, i) = chat();
        let group = &fleet.groups[i];
        let mut d = Dialog::scale(group, &fleet);
        let max = group.spec.max;
        // Type the count: max + 1.
        for _ in 0..6 {
            d.erase();
        }
        for digit in (max + 1).to_string().chars() {
            d.digit(digit.to_digit(10).unwrap());
        }
        assert!(d.what_happens().iter().any(|l| l.contains(&format!("above max {max}"))));
        assert_eq!(d.act(Action::Confirm), Outcome::Stay, "the first confirmation only arms it");
        let Outcome::Send(Command::ForceScale { desired, beyond_max, hold, group: name }) =
            d.act(Action::Confirm)
        else {
            panic!("the second confirmation sends")
        };
        assert_eq!((desired, beyond_max, hold, name.as_str()), (max + 1, true, HOLD_FOR[0], "llm-chat"));
        // Changing the count disarms it again.
        d.act(Action::More);
        assert_eq!(d.act(Action::Confirm), Outcome::Stay);
        // Less stops at min.
        for _ in 0..200 {
            d.act(Action::Less);
        }
        assert_eq!(d.kind, DialogKind::Scale { desired: group.spec.min, beyond_max_confirmed: false });
    }

    #[test]
    fn every_kind_sends_its_command_for_the_selected_group() {
        let (fleet, i) = chat();
        let group = &fleet.groups[i];
        let target = Target::Group("llm-chat".into());
        let cases = [
            (Dialog::open(DialogKind::Resume, group, &fleet), Command::Resume { target: target.clone() }),
            (
                Dialog::open(DialogKind::ResetBreaker, group, &fleet),
                Command::ResetBreaker { target: target.clone() },
            ),
            (
                Dialog::open(DialogKind::Silence, group, &fleet),
                Command::Silence { target: target.clone(), duration: Duration::from_secs(3600) },
            ),
            (Dialog::shadow(group, &fleet), Command::Shadow { target: target.clone(), on: !shadowed(group) }),
        ];
        // llm-chat is not paused in the fixture, embeddings is (scale-in only).
        let resume = Dialog::open(DialogKind::Resume, group, &fleet);
        assert_eq!(resume.what_happens(), ["llm-chat is not paused: nothing changes."]);
        let embeddings = fleet.groups.iter().find(|g| g.spec.name == "embeddings").unwrap();
        let resume = Dialog::open(DialogKind::Resume, embeddings, &fleet);
        assert!(resume.what_happens()[0].starts_with("The policy acts on embeddings again"));
        for (mut dialog, command) in cases {
            assert!(!dialog.what_happens().is_empty() && !dialog.title().is_empty());
            assert_eq!(dialog.act(Action::Confirm), Outcome::Send(command));
        }
    }

    fn shadowed(group: &GroupSnapshot) -> bool {
        group.controls.iter().any(|c| c.kind == ControlKind::Shadow)
    }

    /// Issue 15, point 6: on a group at 12, `2` `0` asks for 20, not 1320.
    #[test]
    fn the_first_digit_typed_replaces_the_proposed_count() {
        let (fleet, i) = chat();
        let group = &fleet.groups[i];
        let mut d = Dialog::scale(group, &fleet);
        let DialogKind::Scale { desired: proposed, .. } = d.kind else { panic!("a scale dialog") };
        assert!(proposed >= 1);
        d.digit(1);
        d.digit(2);
        assert_eq!(d.kind, DialogKind::Scale { desired: 12, beyond_max_confirmed: false });
        d.erase();
        d.digit(4);
        assert_eq!(d.kind, DialogKind::Scale { desired: 14, beyond_max_confirmed: false });
        // Backspace on the proposal edits it: 1 erased from a proposal of 13 leaves 1.
        let mut d = Dialog::scale(group, &fleet);
        d.erase();
        d.digit(7);
        assert_eq!(
            d.kind,
            DialogKind::Scale { desired: (proposed / 10) * 10 + 7, beyond_max_confirmed: false }
        );
    }

    fn control(kind: ControlKind, text: &str, clears_itself: bool) -> crate::protocol::ControlView {
        crate::protocol::ControlView { kind, text: text.into(), clears_itself }
    }

    fn index(fleet: &Snapshot, name: &str) -> usize {
        fleet.groups.iter().position(|g| g.spec.name == name).unwrap()
    }

    /// Issue 15, point 10: resume said "acts on vision again" for a group in shadow mode.
    #[test]
    fn a_resume_says_which_groups_still_do_not_act() {
        let mut fleet = fixtures::fleet();
        let embeddings = index(&fleet, "embeddings");
        fleet.groups[embeddings].controls.push(control(ControlKind::Shadow, "shadow mode", false));
        let d = Dialog::open(DialogKind::Resume, &fleet.groups[embeddings], &fleet);
        assert_eq!(
            d.what_happens(),
            [
                "embeddings: the pause lifts, but shadow mode stays: decisions are shown as \"would …\", never acted on, until shadow is turned off.",
                "Holds stay."
            ]
        );
        // The whole fleet: only embeddings is paused, and vision is not named.
        let mut d = d;
        d.act(Action::ToggleAll);
        assert!(!d.what_happens().iter().any(|l| l.contains("vision")), "{:?}", d.what_happens());
        // Not shadowed, it acts again.
        let fleet = fixtures::fleet();
        let d = Dialog::open(DialogKind::Resume, &fleet.groups[embeddings], &fleet);
        assert_eq!(d.what_happens()[0], "The policy acts on embeddings again from the next tick.");
    }

    /// Issue 15, point 10: the reset dialog says which trips close and which stay open
    /// (a budget trip closes only when cost is back under budget), and opens on the
    /// whole fleet when the selected group has no trip.
    #[test]
    fn a_reset_says_which_trips_close_and_which_stay_open() {
        let mut fleet = fixtures::fleet();
        let vision = index(&fleet, "vision");
        let budget = "breaker budget open (scale-out frozen): hourly cost $9.70 over budget $5.00; resets when cost is under budget ($5.00/h)";
        fleet.groups[vision].controls.push(control(ControlKind::Breaker, budget, true));
        let d = Dialog::reset_breaker(&fleet.groups[vision], &fleet);
        let lines = d.what_happens();
        assert!(!d.all);
        assert_eq!(lines[0], "Closes:");
        assert!(lines[1].starts_with("  vision: breaker actuator failures open"), "{lines:?}");
        assert_eq!(lines[3], "Stays open — a reset cannot close it, only its condition can:");
        assert_eq!(lines[4], format!("  vision: {budget}"));
        // On llm-chat, which has no trip: the dialog offers the fleet's.
        let chat = index(&fleet, "llm-chat");
        let mut d = Dialog::reset_breaker(&fleet.groups[chat], &fleet);
        assert!(d.all, "opens on all groups");
        assert!(d.what_happens()[1].starts_with("  vision:"), "{:?}", d.what_happens());
        d.act(Action::ToggleAll);
        assert_eq!(
            d.what_happens(),
            [
                "llm-chat has no open circuit-breaker trip: nothing changes.",
                "vision has one: a switches to all groups."
            ]
        );
    }

    fn type_count(d: &mut Dialog, count: u32) {
        for digit in count.to_string().chars() {
            d.digit(digit.to_digit(10).unwrap());
        }
    }

    /// Issue 15, point 6: `s` `1` `3` `2` `0` on llm-chat (max 12) cannot be sent, however
    /// often it is confirmed: 1320 is past the hard cap of 2 × max.
    #[test]
    fn a_count_past_the_hard_cap_cannot_be_sent_and_says_why() {
        let (fleet, i) = chat();
        let group = &fleet.groups[i];
        assert_eq!((group.spec.max, group.spec.hard_cap()), (12, 24));
        let mut d = Dialog::scale(group, &fleet);
        type_count(&mut d, 1320);
        for _ in 0..3 {
            assert_eq!(d.act(Action::Confirm), Outcome::Stay);
        }
        let why = "1320 is above the hard cap of 24 (hard_max, default 2 × max): no command passes it";
        assert!(d.what_happens().iter().any(|l| l.contains(why)), "{:?}", d.what_happens());
        // At the cap itself it is beyond max: two confirmations, then sent.
        let mut d = Dialog::scale(group, &fleet);
        type_count(&mut d, 24);
        assert_eq!(d.act(Action::Confirm), Outcome::Stay);
        assert!(matches!(d.act(Action::Confirm), Outcome::Send(Command::ForceScale { desired: 24, .. })));
        // +1 stops at the cap.
        for _ in 0..5 {
            d.act(Action::More);
        }
        assert_eq!(d.kind, DialogKind::Scale { desired: 24, beyond_max_confirmed: false });
    }

    /// Issue 15, point 6: the dialog says what the change costs an hour, and whether it
    /// passes the budget. llm-chat: 8 desired at $10.49/h each, budget $400/h.
    #[test]
    fn a_scale_shows_the_hourly_cost_change_and_the_budget() {
        let (fleet, i) = chat();
        let mut d = Dialog::scale(&fleet.groups[i], &fleet);
        d.digit(1);
        d.digit(2);
        assert!(
            d.what_happens()
                .contains(&"Cost at desired: $83.92/h → $125.88/h (+$41.96/h). Budget $400.00/h.".into()),
            "{:?}",
            d.what_happens()
        );
        d.erase();
        d.erase();
        d.digit(4);
        assert!(d.what_happens()[1].contains("$83.92/h → $41.96/h (−$41.96/h)"), "{:?}", d.what_happens());
        // Over the budget (it caps the policy, not a hold): 24 × $10.49 = $251.76 is
        // within $400; a cheaper budget makes it over.
        let mut tight = fleet.clone();
        tight.groups[i].hourly_budget_usd = Some(100.0);
        let mut d = Dialog::scale(&tight.groups[i], &tight);
        type_count(&mut d, 12);
        assert!(
            d.what_happens()[1]
                .ends_with("Over the budget of $100.00/h: the budget caps automated scale-out, not a hold."),
            "{:?}",
            d.what_happens()
        );
    }

    /// Issue 15, point 7: an open dialog follows the snapshots: "from N" is desired now,
    /// and "until" counts from now, not from when it opened.
    #[test]
    fn an_open_scale_dialog_follows_newer_snapshots() {
        let (fleet, i) = chat();
        let mut d = Dialog::scale(&fleet.groups[i], &fleet);
        type_count(&mut d, 11);
        assert!(d.what_happens()[0].contains("goes from 8 to 11"), "{:?}", d.what_happens());
        let mut later = fleet.clone();
        later.taken_at = fleet.taken_at.plus(Duration::from_secs(600));
        if let Some(capacity) = &mut later.groups[i].capacity {
            capacity.desired = 10;
        }
        d.refresh(&later);
        assert!(d.what_happens()[0].contains("goes from 10 to 11"), "{:?}", d.what_happens());
        let until = crate::model::words::clock(later.taken_at.plus(HOLD_FOR[0]));
        assert!(
            d.what_happens()[2].contains(&format!("for 20m from then (until about {until})")),
            "{:?}",
            d.what_happens()
        );
        // The count typed is the operator's: a snapshot does not change it.
        assert_eq!(d.kind, DialogKind::Scale { desired: 11, beyond_max_confirmed: false });
    }

    /// Issue 15, point 7: a count below min is refused where it is typed, with the reason.
    #[test]
    fn a_count_below_min_says_why_it_cannot_be_sent() {
        let (fleet, i) = chat();
        let group = &fleet.groups[i];
        let min = group.spec.min;
        assert!(min >= 1, "the fixture's llm-chat has a min above 0");
        let mut d = Dialog::scale(group, &fleet);
        d.digit(0);
        assert_eq!(d.act(Action::Confirm), Outcome::Stay);
        let why = format!("0 is below min {min}: it cannot be sent");
        assert!(d.what_happens().iter().any(|l| l.contains(&why)), "{:?}", d.what_happens());
    }
}
