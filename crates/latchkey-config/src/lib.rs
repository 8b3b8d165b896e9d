//! Latchkey's settings. Each one is declared once, in [`settings`], as a
//! typed field with its doc comment, default, unit and range; from those
//! declarations come the loader (defaults, then the TOML file, then
//! `LATCHKEY_*` variables), the names of the variables, the checks, and the
//! reference documents (`config/latchkey.example.toml`, the README's table).
//! Each crate takes the typed section it reads (`Tokens`, `Login`, ...).

pub mod de;
pub mod error;
pub mod file;
pub mod load;
pub mod reference;
pub mod schema;
pub mod settings;
pub mod units;

pub use error::{ConfigError, env_name};
pub use load::{Loaded, config_path, load};
pub use settings::*;
pub use units::{Days, Millis, Seconds};
