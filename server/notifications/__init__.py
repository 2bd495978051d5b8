"""Notifications (消息提醒): an in-app inbox with a live SSE stream, and signed webhooks, DingTalk and WeCom group
robots, delivered through a transactional outbox.

- models.py    notifications (in-app), notification_channels, notification_outbox
- services.py  notify(): who is told and through which channels, written with the change it reports
- content.py   what a notification says (category, grid, deadline; never the reporter or the tip's text)
- channels.py  the wire formats and signatures, and what counts as accepted
- delivery.py  claim, send, record, retry with backoff; the delivery guarantee
- routes.py    GET /api/v1/notifications, POST .../{id}/read, GET .../stream
- cli.py       flask notifications add-channel | list-channels | remove-channel | deliver | status
The worker that drains the outbox is server/worker.py (`flask worker`, or GRID_INPROCESS_WORKER=1).
"""
