/*
 * degrade.c - when a live call's recognition switches to the cheaper search and back
 * (docs/live.md, "Degraded mode"). A pure function of the channel's state, its lag and the
 * thresholds, so that the decoder thread (src/server/live_decode.c) and the unit test agree on it.
 */
#include "sdra/live.h"

bool sdra_live_degrade_next(bool degraded, double lag_s, double enter_lag_s, double leave_lag_s)
{
    if (!(enter_lag_s > 0))
        return false; /* degrading is off: a degraded channel goes back */
    if (!(lag_s >= 0))
        return degraded; /* an unknown lag changes nothing */
    if (!degraded)
        return lag_s >= enter_lag_s;
    return lag_s > (leave_lag_s < enter_lag_s ? leave_lag_s : enter_lag_s);
}
