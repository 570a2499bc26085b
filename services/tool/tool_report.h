/*
 * Reports on clearing windows: the `medclear report window` command (declared in tool.h
 * with the other commands) and the summary that `medclear window close` shows on a
 * terminal.
 */
#ifndef TOOL_REPORT_H
#define TOOL_REPORT_H

#include "mc_config.h"
#include "tool_out.h"

/*
 * Ends progress (when it is on) with a summary of the window closed last: its claims,
 * their fund amount and the window open now. Says nothing when progress is off.
 */
void tool_report_closed(const mc_config_t *cfg, tool_progress_t *progress);

#endif
