-- Events per device and table, with the first and last, to show what telemetry reached Defender.
SELECT DeviceName, 'DeviceProcessEvents' AS "Table", count(*) AS Events, min("Timestamp") AS FirstEvent, max("Timestamp") AS LastEvent
FROM DeviceProcessEvents WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) GROUP BY DeviceName
UNION ALL
SELECT DeviceName, 'DeviceNetworkEvents' AS "Table", count(*) AS Events, min("Timestamp") AS FirstEvent, max("Timestamp") AS LastEvent
FROM DeviceNetworkEvents WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) GROUP BY DeviceName
UNION ALL
SELECT DeviceName, 'DeviceFileEvents' AS "Table", count(*) AS Events, min("Timestamp") AS FirstEvent, max("Timestamp") AS LastEvent
FROM DeviceFileEvents WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) GROUP BY DeviceName
UNION ALL
SELECT DeviceName, 'DeviceRegistryEvents' AS "Table", count(*) AS Events, min("Timestamp") AS FirstEvent, max("Timestamp") AS LastEvent
FROM DeviceRegistryEvents WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) GROUP BY DeviceName
UNION ALL
SELECT DeviceName, 'DeviceLogonEvents' AS "Table", count(*) AS Events, min("Timestamp") AS FirstEvent, max("Timestamp") AS LastEvent
FROM DeviceLogonEvents WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) GROUP BY DeviceName
UNION ALL
SELECT DeviceName, 'DeviceEvents' AS "Table", count(*) AS Events, min("Timestamp") AS FirstEvent, max("Timestamp") AS LastEvent
FROM DeviceEvents WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) GROUP BY DeviceName
UNION ALL
SELECT DeviceName, 'DeviceImageLoadEvents' AS "Table", count(*) AS Events, min("Timestamp") AS FirstEvent, max("Timestamp") AS LastEvent
FROM DeviceImageLoadEvents WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) GROUP BY DeviceName
UNION ALL
SELECT DeviceName, 'DeviceInfo' AS "Table", count(*) AS Events, min("Timestamp") AS FirstEvent, max("Timestamp") AS LastEvent
FROM DeviceInfo WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) GROUP BY DeviceName
ORDER BY DeviceName, "Table"
