// SPDX-License-Identifier: GPL-2.0

//! `hrcallout_expire`: the periodic re-arm arithmetic of the expiry pass, as a pure function.

use kernel::prelude::*;

#[kunit_tests(hrcallout_expire)]
mod catch_up_cases {
    use crate::engine::{catch_up, CatchUp};

    #[test]
    fn on_time_skips_nothing() {
        assert_eq!(
            catch_up(100, 100, 10),
            CatchUp {
                latest: 100,
                missed: 0,
                next: 110
            }
        );
        // Late, but not by a whole period: still this period.
        assert_eq!(catch_up(100, 109, 10).missed, 0);
        assert_eq!(catch_up(100, 109, 10).next, 110);
    }

    #[test]
    fn late_periods_become_overruns_of_the_latest() {
        // Due at 100, handled at 195: periods 100 .. 190 are due; 190 stands for them.
        assert_eq!(
            catch_up(100, 195, 10),
            CatchUp {
                latest: 190,
                missed: 9,
                next: 200
            }
        );
        // Exactly on a later period.
        assert_eq!(catch_up(100, 200, 10).latest, 200);
        assert_eq!(catch_up(100, 200, 10).next, 210);
    }

    #[test]
    fn the_grid_stays_drift_free() {
        let (start, interval) = (1_000, 7);
        let mut expiry = start;
        for now in [1_000, 1_013, 1_050, 1_051, 2_000] {
            let p = catch_up(expiry, now.max(expiry), interval);
            assert_eq!((p.latest - start) % interval, 0);
            assert!(p.next > now && p.latest <= now.max(expiry));
            expiry = p.next;
        }
    }

    #[test]
    fn the_end_of_time_saturates() {
        let p = catch_up(i64::MAX - 5, i64::MAX, 10);
        assert_eq!((p.latest, p.missed, p.next), (i64::MAX - 5, 0, i64::MAX));
        let p = catch_up(0, i64::MAX, 1);
        assert_eq!(p.next, i64::MAX);
    }
}
