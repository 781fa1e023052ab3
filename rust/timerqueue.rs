// SPDX-License-Identifier: GPL-2.0

//! The kernel's timer queue (`lib/timerqueue.c`), for the engine's armed slots.
//!
//! A timer queue is a red-black tree ordered by expiry with a cached leftmost node: O(log n)
//! insert, O(1) amortised removal of any node, O(1) earliest. It is what hrtimers queue on, so
//! the engine's own queue costs what the hrtimer core's does, without a clock base lock or a
//! clock event reprogram per timer. The kernel crate has no binding for it; this file is the
//! only place that calls it, and everything else uses [`TimerQueue`] and [`QueueNode`].

use kernel::{bindings, prelude::*, types::Opaque};

/// A node in a [`TimerQueue`] (`struct timerqueue_node`), embedded in what it queues.
///
/// # Invariants
///
/// The node was initialised by [`QueueNode::new`] and is pinned. While it is queued the tree
/// links point at it; the C code changes its links through those, which `Opaque` allows.
#[pin_data]
#[repr(transparent)]
pub(crate) struct QueueNode {
    #[pin]
    node: Opaque<bindings::timerqueue_node>,
}

impl QueueNode {
    /// A node in no queue, with expiry 0.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // INVARIANT: `timerqueue_init` (RB_CLEAR_NODE) in place: an unqueued node's parent
            // link points at itself.
            node <- Opaque::ffi_init(|p: *mut bindings::timerqueue_node| {
                // SAFETY: `p` is valid, pinned memory for a `timerqueue_node`.
                unsafe {
                    core::ptr::addr_of_mut!((*p).node.__rb_parent_color).write(p as usize);
                    core::ptr::addr_of_mut!((*p).node.rb_right).write(core::ptr::null_mut());
                    core::ptr::addr_of_mut!((*p).node.rb_left).write(core::ptr::null_mut());
                    core::ptr::addr_of_mut!((*p).expires).write(0);
                }
            }),
        })
    }

    fn as_ptr(&self) -> *mut bindings::timerqueue_node {
        self.node.get()
    }

    /// Whether the node is in a queue (`timerqueue_node_queued`).
    ///
    /// The caller serialises this with the queue's users (the engine lock).
    pub(crate) fn is_queued(&self) -> bool {
        let n = self.as_ptr();
        // SAFETY: by the type invariant the node is valid; the caller serialises the read with
        // the tree's writers. An unqueued node's parent link points at itself.
        unsafe { core::ptr::addr_of!((*n).node.__rb_parent_color).read() != n as usize }
    }

    /// The expiry the node was last queued with (kept after it left the queue).
    ///
    /// The caller serialises this with the [`TimerQueue::add`] calls for the node (the
    /// engine lock), which are the only writes of the field.
    #[inline]
    pub(crate) fn expires(&self) -> i64 {
        // SAFETY: by the type invariant the node is valid; the caller serialises the read with
        // the only writer.
        unsafe { core::ptr::addr_of!((*self.as_ptr()).expires).read() }
    }
}

/// A timer queue (`struct timerqueue_head`).
///
/// The tree does not point back at its head, so the head may move; its nodes may not.
pub(crate) struct TimerQueue {
    head: bindings::timerqueue_head,
}

// SAFETY: the head only holds pointers to the nodes of its owner, which uses it under one lock.
unsafe impl Send for TimerQueue {}

impl TimerQueue {
    /// An empty queue (`timerqueue_init_head`: `RB_ROOT_CACHED`).
    pub(crate) fn new() -> Self {
        Self {
            head: bindings::timerqueue_head {
                rb_root: bindings::rb_root_cached {
                    rb_root: bindings::rb_root {
                        rb_node: core::ptr::null_mut(),
                    },
                    rb_leftmost: core::ptr::null_mut(),
                },
            },
        }
    }

    /// Queues `node` at `expires`; returns whether it is now the earliest.
    ///
    /// # Safety
    ///
    /// `node` is in no queue and stays valid until it is removed with [`TimerQueue::del`];
    /// every call on this queue or its nodes is serialised by the caller.
    #[inline]
    pub(crate) unsafe fn add(&mut self, node: &QueueNode, expires: i64) -> bool {
        let n = node.as_ptr();
        // SAFETY: by the type invariant `n` is valid and pinned; the caller guarantees it is in
        // no queue (which `timerqueue_add` requires) and serialises the tree's users.
        unsafe {
            core::ptr::addr_of_mut!((*n).expires).write(expires);
            bindings::timerqueue_add(&mut self.head, n)
        }
    }

    /// Removes `node`; it is then in no queue.
    ///
    /// # Safety
    ///
    /// `node` is in this queue; every call on this queue or its nodes is serialised by the
    /// caller.
    #[inline]
    pub(crate) unsafe fn del(&mut self, node: &QueueNode) {
        // SAFETY: the caller guarantees `node` is in this queue and serialises the tree's
        // users; `timerqueue_del` unlinks it and marks it unqueued (RB_CLEAR_NODE).
        unsafe { bindings::timerqueue_del(&mut self.head, node.as_ptr()) };
    }

    /// The earliest node, if any (`timerqueue_getnext`).
    #[inline]
    pub(crate) fn first(&self) -> Option<*const QueueNode> {
        let leftmost = self.head.rb_root.rb_leftmost;
        // The `rb_node` is the first field of a `timerqueue_node`, the only field of a
        // (transparent) `QueueNode`: the same address.
        (!leftmost.is_null()).then(|| leftmost.cast_const().cast::<QueueNode>())
    }

    /// The node after `node` in expiry order (`timerqueue_iterate_next`), for consistency
    /// checks.
    ///
    /// # Safety
    ///
    /// `node` is in this queue; the caller serialises the tree's users.
    pub(crate) unsafe fn next(&self, node: *const QueueNode) -> Option<*const QueueNode> {
        // SAFETY: the caller guarantees `node` is a queued node of this tree.
        let n = unsafe { bindings::timerqueue_iterate_next(node.cast_mut().cast()) };
        (!n.is_null()).then(|| n.cast_const().cast::<QueueNode>())
    }
}
