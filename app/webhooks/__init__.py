"""Webhooks (API.md §7): endpoints, signed deliveries (Standard Webhooks 1.0), dispatcher."""
