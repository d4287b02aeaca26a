"""The labels of every enum of the API, in Indonesian and English (``GET /api/v1/labels``)."""
