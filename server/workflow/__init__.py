"""The case workflow (办理流程): the closed loop of GB/T 30428 for tips, its time limits and its escalation.

- transitions.py  the state machine as a table: state x action -> new state, who may, which fields
- actors.py       how an account relates to a tip (handler, township, county)
- services.py     act(): check, plan, write under an optimistic lock (tips.version), timeline, notifications
- calendar.py     working hours, holidays, make-up days (调休), the urgent 24x7 clock
- deadlines.py    accept / resolve deadlines, early warning, the escalation job's next check
- escalation.py   the job: early warnings, the chief -> township -> county ladder, overdue notices
- metrics.py      按期结案率, 结案率, average times, per grid and township
- routes.py       POST /api/v1/tips/{id}/actions, GET /api/v1/tips/metrics
"""
