"""The anomaly score (DESIGN §5.4): an IsolationForest over a transaction's fraud
features, compiled into plain arrays, scored 0-100 against its training distribution and
explained feature by feature. Pure: no clock, no database."""
