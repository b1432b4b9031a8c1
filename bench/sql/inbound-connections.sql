-- Accepted inbound connections per remote address and local port.
SELECT DeviceName, RemoteIP, RemoteIPType, LocalPort, Protocol, count(*) AS Connections,
    min("Timestamp") AS FirstSeen, max("Timestamp") AS LastSeen
FROM DeviceNetworkEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ActionType = 'InboundConnectionAccepted'
GROUP BY ALL
ORDER BY Connections DESC
