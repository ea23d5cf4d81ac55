"""main() that returns, one that raises: the app ends on its own."""
import asyncio


async def returns():
    await asyncio.sleep(0.05)


async def raises():
    await asyncio.sleep(0.05)
    raise RuntimeError("the database is gone")
