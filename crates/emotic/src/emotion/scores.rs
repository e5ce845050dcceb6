//! The emotion outputs as they appear in result files: the 26 category values keyed by name,
//! and VAD keyed by dimension.
//!
//! Both serialise their `f32` values widened to `f64`, and in alphabetical key order: that is
//! what the untyped `serde_json` maps used before these types existed wrote, and keeping it
//! keeps every result file byte for byte the same. (Widening is exact; reading a file back
//! gives the same `f32`s.)

use serde::de::{Error as _, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{CATEGORIES, NUM_CATEGORIES};

/// One value per emotion category, in [`CATEGORIES`] order (which is alphabetical); written as
/// a map from category name to value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CategoryScores<T = f32>(pub [T; NUM_CATEGORIES]);

impl<T: Copy + Into<f64>> Serialize for CategoryScores<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(NUM_CATEGORIES))?;
        for (name, &v) in CATEGORIES.iter().zip(&self.0) {
            map.serialize_entry(name, &v.into())?;
        }
        map.end()
    }
}

impl<'de, T: Copy + Default + Deserialize<'de>> Deserialize<'de> for CategoryScores<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ByName<T>(std::marker::PhantomData<T>);
        impl<'de, T: Copy + Default + Deserialize<'de>> Visitor<'de> for ByName<T> {
            type Value = CategoryScores<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "a map with the {NUM_CATEGORIES} EMOTIC category names")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut values = [T::default(); NUM_CATEGORIES];
                let mut seen = [false; NUM_CATEGORIES];
                while let Some(name) = map.next_key::<String>()? {
                    let Some(i) = CATEGORIES.iter().position(|c| *c == name) else {
                        return Err(A::Error::custom(format!("unknown category {name:?}")));
                    };
                    values[i] = map.next_value()?;
                    seen[i] = true;
                }
                if let Some(i) = seen.iter().position(|s| !s) {
                    return Err(A::Error::custom(format!(
                        "missing category {:?}",
                        CATEGORIES[i]
                    )));
                }
                Ok(CategoryScores(values))
            }
        }
        deserializer.deserialize_map(ByName(std::marker::PhantomData))
    }
}

/// Valence, arousal and dominance on the 1-10 scale.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Vad {
    /// Arousal.
    pub arousal: f32,
    /// Dominance.
    pub dominance: f32,
    /// Valence.
    pub valence: f32,
}

impl Vad {
    /// From `[valence, arousal, dominance]`, the model's order.
    #[must_use]
    pub fn from_array([valence, arousal, dominance]: [f32; 3]) -> Self {
        Self {
            arousal,
            dominance,
            valence,
        }
    }

    /// `[valence, arousal, dominance]`.
    #[must_use]
    pub fn to_array(self) -> [f32; 3] {
        [self.valence, self.arousal, self.dominance]
    }
}

impl Serialize for Vad {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("arousal", &f64::from(self.arousal))?;
        map.serialize_entry("dominance", &f64::from(self.dominance))?;
        map.serialize_entry("valence", &f64::from(self.valence))?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_round_trip_by_name_and_widen() {
        let mut values = [0.0f32; NUM_CATEGORIES];
        values[0] = 0.1;
        values[25] = -2.5;
        let text = serde_json::to_string(&CategoryScores(values)).unwrap();
        assert!(
            text.starts_with("{\"Affection\":0.10000000149011612,\"Anger\":0.0"),
            "{text}"
        );
        let back: CategoryScores = serde_json::from_str(&text).unwrap();
        assert_eq!(back.0, values);
        assert!(serde_json::from_str::<CategoryScores>("{\"Affection\":1.0}").is_err());
    }

    #[test]
    fn vad_is_keyed_and_ordered_like_the_maps_before() {
        let vad = Vad::from_array([5.5, 6.0, 7.25]);
        let text = serde_json::to_string(&vad).unwrap();
        assert_eq!(text, "{\"arousal\":6.0,\"dominance\":7.25,\"valence\":5.5}");
        assert_eq!(
            serde_json::from_str::<Vad>(&text).unwrap().to_array(),
            [5.5, 6.0, 7.25]
        );
    }
}
