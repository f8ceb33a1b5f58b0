//! Taking over the terminal and giving it back: raw mode, alternate screen, hidden
//! cursor on entry; all three undone on every exit path — normal return, error, panic.
//!
//! A guard rather than `ratatui::try_init()`/`restore()`, because those leave raw mode on
//! when entering the alternate screen fails, do not show the cursor again, and install a
//! panic hook for the rest of the process (a later panic in a headless run would write
//! escape codes to its log). Here the hook is installed once, restores only while a
//! console is actually on screen, and chains to the previous hook so the panic message
//! prints on the restored screen.

use std::io::{self, IsTerminal, Stdout};
use std::panic;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use crossterm::cursor::{Hide, Show};
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// Whether the terminal is in the console's state and needs restoring.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether mouse capture was turned on and must be turned off again.
static MOUSE: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

pub type ConsoleTerminal = Terminal<CrosstermBackend<Stdout>>;

/// Owns the terminal while the console runs; restores it when dropped.
pub struct TerminalGuard {
    terminal: ConsoleTerminal,
}

impl TerminalGuard {
    /// Takes over the terminal, capturing the mouse if asked (off by default: capture
    /// stops the terminal's own selection, so copying text over SSH breaks). Fails, with
    /// the terminal left as it was, when stdout is not a terminal or any setup step fails.
    pub fn enter(mouse: bool) -> anyhow::Result<TerminalGuard> {
        if !io::stdout().is_terminal() {
            anyhow::bail!("the console needs an interactive terminal, and stdout is not one");
        }
        install_panic_hook();
        ACTIVE.store(true, Ordering::SeqCst);
        let setup = || -> io::Result<ConsoleTerminal> {
            enable_raw_mode()?;
            execute!(io::stdout(), EnterAlternateScreen, Hide)?;
            if mouse {
                MOUSE.store(true, Ordering::SeqCst);
                execute!(io::stdout(), EnableMouseCapture)?;
            }
            Terminal::new(CrosstermBackend::new(io::stdout()))
        };
        match setup() {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(err) => {
                restore();
                Err(err).context("setting up the terminal")
            }
        }
    }

    pub fn terminal(&mut self) -> &mut ConsoleTerminal {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Gives the terminal back if the console holds it; does nothing otherwise, so calling
/// it twice (panic hook, then the guard's drop while unwinding) is harmless. Errors are
/// ignored: there is nowhere left to report them.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        if MOUSE.swap(false, Ordering::SeqCst) {
            let _ = execute!(io::stdout(), DisableMouseCapture);
        }
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
    }
}

fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
