/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest_hypertrace event has CONFIG_HYPERTRACE_ARGS guest arguments,
 * and only hypertrace/args/CONFIG_HYPERTRACE_ARGS/trace-events is part of
 * the build.
 */
#if CONFIG_HYPERTRACE_ARGS == 1
#include "trace/trace-hypertrace_args_1.h"
#elif CONFIG_HYPERTRACE_ARGS == 2
#include "trace/trace-hypertrace_args_2.h"
#elif CONFIG_HYPERTRACE_ARGS == 3
#include "trace/trace-hypertrace_args_3.h"
#elif CONFIG_HYPERTRACE_ARGS == 4
#include "trace/trace-hypertrace_args_4.h"
#elif CONFIG_HYPERTRACE_ARGS == 5
#include "trace/trace-hypertrace_args_5.h"
#elif CONFIG_HYPERTRACE_ARGS == 6
#include "trace/trace-hypertrace_args_6.h"
#elif CONFIG_HYPERTRACE_ARGS == 7
#include "trace/trace-hypertrace_args_7.h"
#elif CONFIG_HYPERTRACE_ARGS == 8
#include "trace/trace-hypertrace_args_8.h"
#else
#error "CONFIG_HYPERTRACE_ARGS must be between 1 and 8"
#endif
