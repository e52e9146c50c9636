"""Time: timers, time entries, timesheets and approvals, rates, capacity and utilization."""
