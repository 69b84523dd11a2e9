//! The `/dev/kwasm` ioctl interface. Filled in with the kernel module.
