-- LAVA leaves these texts NULL until they are given (lavacli prints
-- "None", JSON says null, Python scripts test `is None`), and stores ''
-- only when '' is given: so does lava-cpp now. The empty strings stored so
-- far stood for "not given".
ALTER TABLE tags ALTER COLUMN description DROP NOT NULL, ALTER COLUMN description DROP DEFAULT;
ALTER TABLE device_types ALTER COLUMN description DROP NOT NULL, ALTER COLUMN description DROP DEFAULT;
ALTER TABLE workers ALTER COLUMN description DROP NOT NULL, ALTER COLUMN description DROP DEFAULT,
                    ALTER COLUMN version DROP NOT NULL, ALTER COLUMN version DROP DEFAULT;
ALTER TABLE devices ALTER COLUMN description DROP NOT NULL, ALTER COLUMN description DROP DEFAULT,
                    ALTER COLUMN device_version DROP NOT NULL, ALTER COLUMN device_version DROP DEFAULT;
UPDATE tags SET description = NULL WHERE description = '';
UPDATE device_types SET description = NULL WHERE description = '';
UPDATE workers SET description = NULL WHERE description = '';
UPDATE workers SET version = NULL WHERE version = '';
UPDATE devices SET description = NULL WHERE description = '';
UPDATE devices SET device_version = NULL WHERE device_version = '';
