"""Binary min-heap on two parallel arrays (keys, values) for the numba kernels of :mod:`planner.routing`."""
from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True, inline="always")
def push(heap_d, heap_v, size, key, value):
    """Push ``(key, value)`` on a min-heap of ``size`` entries; returns the new size."""
    i = size
    while i > 0:
        p = (i - 1) >> 1
        if heap_d[p] <= key:
            break
        heap_d[i] = heap_d[p]
        heap_v[i] = heap_v[p]
        i = p
    heap_d[i] = key
    heap_v[i] = value
    return size + 1


@njit(cache=True, nogil=True, inline="always")
def pop(heap_d, heap_v, size):
    """Remove the root of a min-heap (read ``heap_*[0]`` first); returns the new size."""
    size -= 1
    if size > 0:
        key = heap_d[size]
        value = heap_v[size]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            if c + 1 < size and heap_d[c + 1] < heap_d[c]:
                c += 1
            if heap_d[c] >= key:
                break
            heap_d[i] = heap_d[c]
            heap_v[i] = heap_v[c]
            i = c
        heap_d[i] = key
        heap_v[i] = value
    return size
