// SPDX-License-Identifier: GPL-2.0

//! The device's `file_operations`: the VFS shims, each a few lines that recover the file's
//! [`Context`] and call the transport.
//!
//! `open` stores an `Arc<Context>` in the file's `private_data` (replacing the `miscdevice`
//! pointer `misc_open` put there); every other shim borrows it; `release` takes it back. The
//! table's `owner` is this module, so the VFS pins the module while a file is open.

use super::{fdinfo, ioctl, read, Context};
use kernel::{
    bindings,
    ffi::{c_int, c_long, c_uint, c_ulong},
    fs::File,
    module::this_module,
    prelude::*,
    seq_file::SeqFile,
    sync::{poll::PollTable, Arc},
    types::ForeignOwnable,
    uaccess::UserPtr,
};

/// The file operations table, immutable.
struct Fops(bindings::file_operations);

// SAFETY: the table is immutable and only read by the VFS.
unsafe impl Sync for Fops {}

static FOPS: Fops = Fops(bindings::file_operations {
    owner: this_module::<crate::LocalModule>().as_ptr(),
    open: Some(hrc_open),
    release: Some(hrc_release),
    unlocked_ioctl: Some(hrc_ioctl),
    compat_ioctl: bindings::compat_ptr_ioctl,
    read: Some(hrc_read),
    poll: Some(hrc_poll),
    show_fdinfo: Some(hrc_show_fdinfo),
    // Records are a stream: positions mean nothing.
    llseek: Some(bindings::noop_llseek),
    ..pin_init::zeroed()
});

/// The table the device is registered with.
pub(super) fn table() -> &'static bindings::file_operations {
    &FOPS.0
}

/// # Safety
///
/// Called by the VFS (`misc_open`) for a file of this device being opened.
unsafe extern "C" fn hrc_open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: the pointers are valid and for a file being opened.
    let ret = unsafe { bindings::generic_file_open(inode, file) };
    if ret != 0 {
        return ret;
    }
    match Context::new() {
        Ok(ctx) => {
            // SAFETY: the open call of a file owns its private data; every other shim of this
            // table reads it back as the `Arc<Context>` stored here.
            unsafe { (*file).private_data = ctx.into_foreign().cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS once for a file opened by [`hrc_open`], after its last use.
unsafe extern "C" fn hrc_release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: the release call owns the private data: the `Arc<Context>` `hrc_open` stored,
    // which no other shim can borrow any more.
    let ctx =
        unsafe { <Arc<Context> as ForeignOwnable>::from_foreign((*file).private_data.cast()) };
    ctx.release();
    0
}

/// Borrows the context of a file opened by [`hrc_open`].
///
/// # Safety
///
/// `file` is such a file, not yet released, for the duration of the borrow.
unsafe fn context<'a>(file: *mut bindings::file) -> <Arc<Context> as ForeignOwnable>::Borrowed<'a> {
    // SAFETY: `private_data` holds the `Arc<Context>` stored by `open`, alive until
    // `release`, which cannot run while the caller's file operation runs.
    unsafe { <Arc<Context> as ForeignOwnable>::borrow((*file).private_data.cast()) }
}

/// # Safety
///
/// Called by the VFS with a file opened by [`hrc_open`] and not yet released.
unsafe extern "C" fn hrc_ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    // SAFETY: as the function's contract says.
    let ctx = unsafe { context(file) };
    match ioctl::dispatch(&ctx, cmd, arg) {
        Ok(v) => v as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

/// # Safety
///
/// Called by the VFS with a file opened by [`hrc_open`] and not yet released.
unsafe extern "C" fn hrc_read(
    file: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    _pos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: as the function's contract says.
    let ctx = unsafe { context(file) };
    // SAFETY: the file is valid for the duration of this call, and a read holds no
    // `fdget_pos` region of ours.
    let file = unsafe { File::from_raw_file(file) };
    match read::read(&ctx, file, UserPtr::from_ptr(buf.cast()), count) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// As for [`hrc_read`]; `wait` is the poll table the VFS passes (possibly null).
unsafe extern "C" fn hrc_poll(
    file: *mut bindings::file,
    wait: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: as the function's contract says.
    let ctx = unsafe { context(file) };
    // SAFETY: as in `hrc_read`.
    let file = unsafe { File::from_raw_file(file) };
    // SAFETY: the VFS passes a valid (or null) poll table for this call.
    let table = unsafe { PollTable::from_raw(wait) };
    table.register_wait(file, ctx.engine.poll_condvar());
    if ctx.engine.readable() {
        bindings::POLLIN | bindings::POLLRDNORM
    } else {
        0
    }
}

/// # Safety
///
/// Called by procfs with a seq file to write to and a file opened by [`hrc_open`] and not yet
/// released.
unsafe extern "C" fn hrc_show_fdinfo(m: *mut bindings::seq_file, file: *mut bindings::file) {
    // SAFETY: as the function's contract says.
    let ctx = unsafe { context(file) };
    // SAFETY: procfs passes a seq file that is valid and ours for the duration of the call.
    let m = unsafe { SeqFile::from_raw(m) };
    fdinfo::show(&ctx, m);
}
