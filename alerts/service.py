"""The alert service: feature batches from MQTT through the pure AlertEngine, prompts and events back out.

Subscribes at QoS 1 with a persistent session; publishes prompts on ``<root>/v1/<wearer>/prompts`` and
events on ``<root>/v1/<wearer>/events``. Talks to ingest only through the wire contract.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiomqtt

from alerts.engine import AlertEngine, Output
from ingest.errors import WireError
from ingest.mqtt import DeadLetters, Publisher, payload_bytes
from ingest.wire import CommandV1, FeatureBatchV1, PromptV1, Topics, decode, encode

_LOGGER = logging.getLogger(__name__)


class AlertService:
    def __init__(
        self,
        *,
        topics: Topics,
        engine: AlertEngine,
        on_prompt: Callable[[PromptV1], None] | None = None,
        name: str = "alerts",
    ) -> None:
        self.topics = topics
        self.engine = engine
        self.on_prompt = on_prompt
        self.name = name
        self.dead_letters = DeadLetters(name, topics)
        self.ready = asyncio.Event()
        self.prompts_published = 0
        self.events_published = 0

    async def run(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        await client.subscribe(self.topics.all_features(), qos=1)
        await client.subscribe(self.topics.all_commands(), qos=1)
        self.ready.set()
        _LOGGER.info("%s: watching %s", self.name, self.topics.all_features())
        consumer = asyncio.create_task(self._consume(client), name=f"{self.name}-consume")
        stopper = asyncio.create_task(stop.wait(), name=f"{self.name}-stop")
        try:
            done, _ = await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if consumer in done:
                consumer.result()
        finally:
            consumer.cancel()
            stopper.cancel()
            await asyncio.gather(consumer, stopper, return_exceptions=True)

    async def _consume(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            await self.handle(client, str(message.topic), payload_bytes(message))

    def _command(self, command: CommandV1) -> list[Output]:
        applied, outputs = self.engine.command(command)
        _LOGGER.info(
            "%s %s: %s%s%s",
            self.name,
            command.wearer,
            command.kind,
            f" {command.prompt_id}" if command.prompt_id else "",
            "" if applied else " ignored (unknown wearer, device or prompt, or the bout is over)",
        )
        return outputs

    async def handle(self, publisher: Publisher, topic: str, payload: bytes) -> None:
        try:
            _, batch = decode(self.topics, topic, payload)
            if not isinstance(batch, FeatureBatchV1 | CommandV1):
                raise WireError(f"expected a feature batch or a command on {topic}")
        except WireError as exc:
            await self.dead_letters.send(publisher, topic, payload, str(exc))
            return
        outputs = self._command(batch) if isinstance(batch, CommandV1) else self.engine.process(batch)
        for output in outputs:
            if isinstance(output, PromptV1):
                _LOGGER.info(
                    "%s %s: prompt %s (%s) at %s",
                    self.name,
                    output.wearer,
                    output.id,
                    output.exercise,
                    output.created.isoformat(),
                )
                await publisher.publish(self.topics.prompts(output.wearer), encode(output), qos=1)
                self.prompts_published += 1
                if self.on_prompt is not None:
                    self.on_prompt(output)
            else:
                await publisher.publish(self.topics.events(output.wearer), encode(output), qos=1)
                self.events_published += 1
