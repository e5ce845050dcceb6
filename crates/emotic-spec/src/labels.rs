//! What the model's outputs mean: 26 category scores, then valence, arousal and dominance.

/// The 26 EMOTIC emotion categories in the reference index order (the order of the fusion
/// head's `fc_cat` outputs and of the annotations' category vectors).
pub const CATEGORIES: [&str; NUM_CATEGORIES] = [
    "Affection",
    "Anger",
    "Annoyance",
    "Anticipation",
    "Aversion",
    "Confidence",
    "Disapproval",
    "Disconnection",
    "Disquietment",
    "Doubt/Confusion",
    "Embarrassment",
    "Engagement",
    "Esteem",
    "Excitement",
    "Fatigue",
    "Fear",
    "Happiness",
    "Pain",
    "Peace",
    "Pleasure",
    "Sadness",
    "Sensitivity",
    "Suffering",
    "Surprise",
    "Sympathy",
    "Yearning",
];

/// Number of emotion categories.
pub const NUM_CATEGORIES: usize = 26;

/// The continuous dimensions in the reference order (the fusion head's `fc_cont` outputs).
pub const VAD_NAMES: [&str; NUM_VAD] = ["Valence", "Arousal", "Dominance"];

/// Number of continuous dimensions.
pub const NUM_VAD: usize = 3;

/// The model emits VAD divided by 10 (the reference trains on the 1-10 annotations scaled
/// down); multiplying by this gives the 1-10 scale.
pub const VAD_SCALE: f32 = 10.0;
