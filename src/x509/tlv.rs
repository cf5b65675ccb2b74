//! A reader of the DER fields inside one constructed value, for the parts
//! of X.509 structures the handler only walks through.
//!
//! Decoding a whole `CertReq` or `GeneralName` with `x509-cert` compiles a
//! decoder (and, for `SET OF`, a sort) for every type inside, most of
//! which the handler never looks at; in the component that was a fifth of
//! its size. Here the outer structure is read as tagged values, each
//! checked for its tag and DER encoding by `der`, and the fields the
//! handler uses are decoded with their `der`/`x509-cert` types.

use der::asn1::AnyRef;
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};

/// The fields inside one constructed DER value, read in order.
pub(crate) struct Fields<'a>(SliceReader<'a>);

impl<'a> Fields<'a> {
    /// The fields of `value`, which must be tagged `tag`.
    pub(crate) fn of(value: AnyRef<'a>, tag: Tag) -> der::Result<Self> {
        value.tag().assert_eq(tag)?;
        Ok(Self(SliceReader::new(value.value())?))
    }

    /// The fields of the one value `der` holds (nothing may follow it),
    /// which must be tagged `tag`.
    pub(crate) fn of_der(der: &'a [u8], tag: Tag) -> der::Result<Self> {
        Self::of(AnyRef::from_der(der)?, tag)
    }

    /// The next field, whatever its tag.
    pub(crate) fn next_any(&mut self) -> der::Result<AnyRef<'a>> {
        AnyRef::decode(&mut self.0)
    }

    /// The next field, which must be tagged `tag`.
    pub(crate) fn next(&mut self, tag: Tag) -> der::Result<AnyRef<'a>> {
        let value = self.next_any()?;
        value.tag().assert_eq(tag)?;
        Ok(value)
    }

    /// The next field if it is tagged `tag` (an optional field).
    pub(crate) fn optional(&mut self, tag: Tag) -> der::Result<Option<AnyRef<'a>>> {
        if self.is_empty() || Tag::peek(&self.0)? != tag {
            return Ok(None);
        }
        self.next_any().map(Some)
    }

    /// True when every field has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_finished()
    }

    /// Checks that every field has been read.
    pub(crate) fn finish(self) -> der::Result<()> {
        self.0.finish()
    }
}

/// The tag `[number]` of a context-specific field.
pub(crate) const fn context(number: u32, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number: TagNumber(number),
    }
}
