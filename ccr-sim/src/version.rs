//! Elasticsearch versions and the behaviour switches that depend on them.

use std::fmt;
use std::str::FromStr;

/// An Elasticsearch version such as `8.15.0`.
///
/// The simulator supports 6.7+ (the first version with the CCR APIs it speaks), 7.x, 8.x and 9.x.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

/// The version a simulated cluster runs when none is chosen: a current 8.x.
pub const DEFAULT_VERSION: Version = Version::new(8, 15, 0);

/// A version string the simulator cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Not of the form `MAJOR.MINOR[.PATCH]`.
    #[error("invalid Elasticsearch version [{0}]: expected MAJOR.MINOR.PATCH, e.g. 8.15.0")]
    Malformed(String),
    /// Outside 6.7 to 9.x.
    #[error("unsupported Elasticsearch version [{0}]: the simulator covers 6.7 to 9.x")]
    Unsupported(String),
}

impl Version {
    /// A version from its parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// True when this version is `major.minor` or later.
    pub fn at_least(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// Lucene version shipped with this Elasticsearch minor (shown by `GET /`), from the release
    /// notes' "upgrade to Lucene" entries; within a minor the patch releases may differ.
    pub(crate) fn lucene(self) -> &'static str {
        match (self.major, self.minor) {
            (6, _) => "7.7.3",
            (7, 0..=2) => "8.0.0",
            (7, 3) => "8.1.0",
            (7, 4) => "8.2.0",
            (7, 5) => "8.3.0",
            (7, 6) => "8.4.0",
            (7, 7 | 8) => "8.5.1",
            (7, 9) => "8.6.0",
            (7, 10 | 11) => "8.7.0",
            (7, 12) => "8.8.0",
            (7, 13) => "8.8.2",
            (7, 14 | 15) => "8.9.0",
            (7, 16) => "8.10.1",
            (7, _) => "8.11.3",
            (8, 0 | 1) => "9.0.0",
            (8, 2) => "9.1.0",
            (8, 3) => "9.2.0",
            (8, 4) => "9.3.0",
            (8, 5) => "9.4.1",
            (8, 6) => "9.4.2",
            (8, 7) => "9.5.0",
            (8, 8) => "9.6.0",
            (8, 9 | 10) => "9.7.0",
            (8, 11) => "9.8.0",
            (8, 12) => "9.9.2",
            (8, 13 | 14) => "9.10.0",
            (8, 15) => "9.11.1",
            (8, 16 | 17) => "9.12.0",
            (8, _) => "9.12.1",
            (9, 0) => "10.1.0",
            _ => "10.2.2",
        }
    }

    /// `minimum_wire_compatibility_version` shown by `GET /`: the last minor of the previous
    /// major at the time of release (9.0 came out with 8.18, 9.1 with 8.19).
    pub(crate) fn min_wire(self) -> &'static str {
        match (self.major, self.minor) {
            (6, _) => "5.6.0",
            (7, _) => "6.8.0",
            (8, _) => "7.17.0",
            (9, 0) => "8.18.0",
            _ => "8.19.0",
        }
    }

    /// `minimum_index_compatibility_version` shown by `GET /`.
    pub(crate) fn min_index(self) -> &'static str {
        match self.major {
            6 => "5.0.0",
            7 => "6.0.0-beta1",
            8 => "7.0.0",
            _ => "8.0.0",
        }
    }

    /// The `index.version.created` setting value (ES's internal id).
    pub(crate) fn id(self) -> String {
        format!("{}{:02}{:02}99", self.major, self.minor, self.patch)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(VersionError::Malformed(s.to_string()));
        }
        let num = |p: &str| {
            p.parse::<u32>()
                .map_err(|_| VersionError::Malformed(s.to_string()))
        };
        let v = Version::new(
            num(parts[0])?,
            num(parts[1])?,
            if parts.len() == 3 { num(parts[2])? } else { 0 },
        );
        if !(v.at_least(6, 7) && v.major <= 9) {
            return Err(VersionError::Unsupported(s.to_string()));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_compares() {
        let v: Version = "7.17.3".parse().unwrap();
        assert_eq!(v, Version::new(7, 17, 3));
        assert!(v.at_least(7, 14));
        assert!(!v.at_least(8, 0));
        assert_eq!("9.1".parse::<Version>().unwrap(), Version::new(9, 1, 0));
        assert!(matches!(
            "6.6.0".parse::<Version>(),
            Err(VersionError::Unsupported(_))
        ));
        assert!(matches!(
            "10.0.0".parse::<Version>(),
            Err(VersionError::Unsupported(_))
        ));
        assert!(matches!(
            "eight".parse::<Version>(),
            Err(VersionError::Malformed(_))
        ));
    }

    #[test]
    fn root_info_constants_per_minor() {
        assert_eq!(Version::new(9, 0, 3).min_wire(), "8.18.0");
        assert_eq!(Version::new(9, 1, 0).min_wire(), "8.19.0");
        assert_eq!(Version::new(8, 15, 0).lucene(), "9.11.1");
        assert_eq!(Version::new(8, 0, 0).lucene(), "9.0.0");
        assert_eq!(Version::new(7, 10, 2).lucene(), "8.7.0");
        assert_eq!(Version::new(9, 0, 0).lucene(), "10.1.0");
    }
}
