//! Fixed-size little-endian records, the encoding of everything that crosses
//! between userspace and the kernel (`.kw` metadata, ioctl structs).
//!
//! Records are decoded field by field from bytes rather than transmuted, so
//! the kernel never interprets user memory as a Rust type, there is no padding
//! to leak, and the layout is the same on every host.

/// A fixed-size field of a record.
pub trait Field: Sized {
    const SIZE: usize;
    fn get(b: &[u8], at: &mut usize) -> Self;
    fn put(&self, b: &mut [u8], at: &mut usize);
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            fn get(b: &[u8], at: &mut usize) -> Self {
                let mut a = [0u8; core::mem::size_of::<$t>()];
                a.copy_from_slice(&b[*at..*at + Self::SIZE]);
                *at += Self::SIZE;
                <$t>::from_le_bytes(a)
            }
            fn put(&self, b: &mut [u8], at: &mut usize) {
                b[*at..*at + Self::SIZE].copy_from_slice(&self.to_le_bytes());
                *at += Self::SIZE;
            }
        }
    )*};
}
int_field!(u8, u16, u32, u64);

/// A fixed-size record in a section.
pub trait Record: Sized + Copy {
    const SIZE: usize;
    /// Decode from exactly `SIZE` bytes.
    fn read(b: &[u8]) -> Self;
    /// Encode into exactly `SIZE` bytes.
    fn write(&self, b: &mut [u8]);
}

macro_rules! kwasm_record {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name { $($(#[$fm])* pub $f: $t),* }
        impl $name {
            /// Encoded size in bytes.
            pub const SIZE: usize = 0 $(+ <$t as Field>::SIZE)*;
        }
        impl Default for $name {
            fn default() -> Self {
                <$name as Record>::read(&[0u8; $name::SIZE])
            }
        }
        impl Record for $name {
            const SIZE: usize = $name::SIZE;
            fn read(b: &[u8]) -> Self {
                let mut at = 0;
                $(let $f = <$t as Field>::get(b, &mut at);)*
                $name { $($f),* }
            }
            fn write(&self, b: &mut [u8]) {
                let mut at = 0;
                $(Field::put(&self.$f, b, &mut at);)*
            }
        }
        impl Field for $name {
            const SIZE: usize = $name::SIZE;
            fn get(b: &[u8], at: &mut usize) -> Self {
                let r = <$name as Record>::read(&b[*at..*at + $name::SIZE]);
                *at += $name::SIZE;
                r
            }
            fn put(&self, b: &mut [u8], at: &mut usize) {
                <$name as Record>::write(self, &mut b[*at..*at + $name::SIZE]);
                *at += $name::SIZE;
            }
        }
    };
}

impl<const N: usize> Field for [u8; N] {
    const SIZE: usize = N;
    fn get(b: &[u8], at: &mut usize) -> Self {
        let mut a = [0u8; N];
        a.copy_from_slice(&b[*at..*at + N]);
        *at += N;
        a
    }
    fn put(&self, b: &mut [u8], at: &mut usize) {
        b[*at..*at + N].copy_from_slice(self);
        *at += N;
    }
}

impl<const N: usize> Field for [u64; N] {
    const SIZE: usize = 8 * N;
    fn get(b: &[u8], at: &mut usize) -> Self {
        let mut a = [0u64; N];
        for x in a.iter_mut() {
            *x = u64::get(b, at);
        }
        a
    }
    fn put(&self, b: &mut [u8], at: &mut usize) {
        for x in self {
            x.put(b, at);
        }
    }
}

impl Field for i32 {
    const SIZE: usize = 4;
    fn get(b: &[u8], at: &mut usize) -> Self {
        u32::get(b, at) as i32
    }
    fn put(&self, b: &mut [u8], at: &mut usize) {
        (*self as u32).put(b, at)
    }
}
