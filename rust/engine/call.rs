// SPDX-License-Identifier: GPL-2.0

//! [`Call`]: a function and its argument that the engine calls when a timer comes due — an
//! inline one-shot's callback (STREAMS `timeout`) or a callout's function.
//!
//! Its function has the C ABI, `void fn(void *)` (STREAMS `timo_fcn_t`, BSD `timeout_t`), so
//! that a C driver's callback is stored and called as it is, with no trampoline between the
//! engine and the driver; the typed Rust API (`kernel_api`) puts a trampoline of its own in
//! instead. Making one is the unsafe step: whoever makes a [`Call`] promises that calling it is
//! sound, and the engine keeps that promise's terms (once per expiry, while held).

use core::ffi::c_void;

/// A C function of one pointer argument: STREAMS `timo_fcn_t`, BSD `timeout_t`.
pub(crate) type CFn = unsafe extern "C" fn(*mut c_void);

/// A function and its argument, called when the timer or callout holding them comes due.
///
/// # Invariants
///
/// Calling `func(arg)`, in soft-irq or thread context on any CPU, is sound once for each expiry
/// of the timer or callout this call was given to, for as long as that timer or callout holds
/// it (until it is cancelled, reset with another call, or freed).
#[derive(Clone, Copy)]
pub(crate) struct Call {
    func: CFn,
    arg: *mut c_void,
}

// SAFETY: by the type invariant, calling `func(arg)` is sound on any CPU; the pointer is only
// passed to `func`, never dereferenced here.
unsafe impl Send for Call {}
// SAFETY: as for `Send`: `&Call` only allows copying it and making the call.
unsafe impl Sync for Call {}

impl Call {
    /// A call of `func(arg)`.
    ///
    /// # Safety
    ///
    /// Calling `func(arg)` must be sound as the type invariant says, for as long as the timer
    /// or callout it is given to holds it: whatever `arg` points to lives that long, and `func`
    /// may run in soft-irq context (timeouts) or thread context (callouts) on any CPU.
    #[inline]
    pub(crate) const unsafe fn new(func: CFn, arg: *mut c_void) -> Self {
        // INVARIANT: the caller promises it.
        Self { func, arg }
    }

    /// The argument (a timeout's, for an owner that takes it back when cancelling).
    #[inline]
    pub(crate) fn arg(&self) -> *mut c_void {
        self.arg
    }

    /// The function and the argument as they are stored in a slot (the argument in its
    /// cookie): [`Call::from_parts`] puts them back together.
    #[inline]
    pub(super) fn into_parts(self) -> (CFn, u64) {
        (self.func, self.arg as u64)
    }

    /// The call whose parts [`Call::into_parts`] gave.
    ///
    /// # Safety
    ///
    /// `func` and `arg` are the parts of one [`Call`], still held by the same slot.
    #[inline]
    pub(super) unsafe fn from_parts(func: CFn, arg: u64) -> Self {
        // INVARIANT: the parts of a call that satisfied it, held by the same timer.
        Self {
            func,
            arg: arg as *mut c_void,
        }
    }

    /// Makes the call.
    ///
    /// # Safety
    ///
    /// Only for an expiry of the timer or callout that holds this call, once per expiry.
    #[inline]
    pub(crate) unsafe fn call(self) {
        // SAFETY: by the type invariant and the caller's promise of an expiry of its holder.
        unsafe { (self.func)(self.arg) }
    }
}
