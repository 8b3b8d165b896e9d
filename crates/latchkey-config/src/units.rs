//! Durations, one type per unit a setting is written in. A key keeps its unit
//! in its name (`tokens.access_token_ttl_seconds`, `redis.timeout_ms`,
//! `audit.retention_days`) and holds a whole number of it; the code reads a
//! [`Duration`], or whole seconds for Unix-time arithmetic.

use std::borrow::Cow;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! unit {
    ($(#[$doc:meta])* $name:ident, $unit:literal, $to_duration:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(u64);

        impl $name {
            pub const fn new(count: u64) -> Self {
                Self(count)
            }

            /// The number as written in the configuration.
            pub const fn get(self) -> u64 {
                self.0
            }

            pub fn duration(self) -> Duration {
                let to: fn(u64) -> Duration = $to_duration;
                to(self.0)
            }

            /// Whole seconds, for arithmetic on Unix times.
            pub fn secs(self) -> i64 {
                i64::try_from(self.duration().as_secs()).unwrap_or(i64::MAX)
            }

            /// Whether it is zero (often: the feature is off).
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }
        }

        impl From<$name> for Duration {
            fn from(v: $name) -> Duration {
                v.duration()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u64(self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                u64::deserialize(d).map(Self)
            }
        }

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({"type": "integer", "minimum": 0, "x-unit": $unit})
            }
        }
    };
}

unit!(
    /// A number of seconds (keys ending in `_seconds`).
    Seconds,
    "seconds",
    Duration::from_secs
);
unit!(
    /// A number of milliseconds (keys ending in `_ms`).
    Millis,
    "milliseconds",
    Duration::from_millis
);
unit!(
    /// A number of days (keys ending in `_days`).
    Days,
    "days",
    |d| Duration::from_secs(d.saturating_mul(86_400))
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unit_yields_its_duration() {
        assert_eq!(Seconds::new(90).duration(), Duration::from_secs(90));
        assert_eq!(Seconds::new(90).secs(), 90);
        assert_eq!(Millis::new(250).duration(), Duration::from_millis(250));
        assert_eq!(Millis::new(1500).secs(), 1);
        assert_eq!(Days::new(2).duration(), Duration::from_secs(172_800));
        assert_eq!(serde_json::to_value(Seconds::new(5)).unwrap(), serde_json::json!(5));
        assert_eq!(serde_json::from_value::<Millis>(serde_json::json!(7)).unwrap(), Millis::new(7));
    }
}
