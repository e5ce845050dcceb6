//! The published pretrained weights the EMOTIC recipe starts from.
//!
//! The digests are those of the files as their publishers serve them. torchvision names its
//! files after the first 8 hex digits of the sha256 (`resnet18-f37072fd.pth`), which the full
//! digest below starts with.

use crate::Artifact;

/// torchvision's ImageNet ResNet18 (`ResNet18_Weights.IMAGENET1K_V1`), a state dict. The body
/// stream starts from it.
pub const IMAGENET_RESNET18: Artifact<'static> = Artifact {
    file_name: "resnet18-f37072fd.pth",
    url: "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    sha256: "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec",
    size: Some(46_830_571),
};

/// The Places365 ResNet18 of the CSAIL Places365 model zoo (`{'state_dict': {'module.*'}}`,
/// 365 classes). The context stream starts from it. The zoo serves it over plain HTTP only,
/// which is why the digest check matters.
pub const PLACES365_RESNET18: Artifact<'static> = Artifact {
    file_name: "resnet18_places365.pth.tar",
    url: "http://places2.csail.mit.edu/models_places365/resnet18_places365.pth.tar",
    sha256: "2f4759217d470da2b803f8f66cd4488a066406b555a5fb95ee9a4663f9f05588",
    size: Some(45_506_139),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_names_its_file_after_the_digest() {
        let stem = IMAGENET_RESNET18
            .file_name
            .trim_end_matches(".pth")
            .rsplit('-')
            .next()
            .unwrap();
        assert!(IMAGENET_RESNET18.sha256.starts_with(stem));
    }

    #[test]
    fn urls_end_with_the_file_name_and_digests_are_sha256_hex() {
        for a in [IMAGENET_RESNET18, PLACES365_RESNET18] {
            assert!(a.url.ends_with(&format!("/{}", a.file_name)), "{}", a.url);
            assert_eq!(a.sha256.len(), 64);
            assert!(a.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
}
