"""Volunteer grid patrols (网格志愿巡查): a phone opens a patrol, sends its GPS points in numbered batches (retries
and out-of-order delivery are safe), and finishes it; the server cleans the track, stores it as a LINESTRING
and splits its time and distance across the grids it went through. See track.py for the method and
models.py for the storage.
"""
