-- Outbound connections per initiating process and remote endpoint.
SELECT DeviceName, DeviceId, InitiatingProcessFileName, InitiatingProcessFolderPath,
    InitiatingProcessId, InitiatingProcessCreationTime, InitiatingProcessCommandLine,
    InitiatingProcessAccountName, RemoteIP, RemoteIPType, RemotePort, RemoteUrl, ActionType,
    count(*) AS Connections, min("Timestamp") AS FirstSeen, max("Timestamp") AS LastSeen
FROM DeviceNetworkEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ActionType IN ('ConnectionSuccess', 'ConnectionAttempt', 'ConnectionFailed', 'ConnectionRequest')
    AND RemoteIPType IS DISTINCT FROM 'Loopback'
GROUP BY ALL
ORDER BY FirstSeen
