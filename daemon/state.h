/* SPDX-License-Identifier: MIT */
#pragma once
/* Persistent state: see manager.h (state_load, state_save) and HACKING.md for the format. */
#include "manager.h"
