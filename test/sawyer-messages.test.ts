import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { md5, parse } from '@foxglove/rosmsg';
import { interaMsgDir, ros1Type } from '../src/robot/sawyer/intera-messages.js';

/** md5sums the robot's own software uses (ROS 1 refuses a connection when they differ). */
const ROBOT_MD5: Record<string, string> = {
  'intera_core_msgs/JointCommand': 'c8c85922d297da6209a089a906207e5d',
  'intera_core_msgs/RobotAssemblyState': 'df79ce5f75a6b23626e9fcdf1cc4d298',
  'intera_core_msgs/EndpointState': 'ec04f0f9bc02b3e335181c07d68c2c98',
  // From the message package generated for intera_common (gennodejs IOComponentCommand.js).
  'intera_core_msgs/IOComponentCommand': 'ede95ba2953dc221dc82cac20f697530',
  'sensor_msgs/JointState': '3066dcd76a6cfaef579bd0f34173e9fd',
  'std_msgs/Bool': '8b94c1b53db61fb6aed406028ad6332a',
};

describe('sawyer: Intera ROS 1 message definitions', () => {
  for (const [type, md5] of Object.entries(ROBOT_MD5)) {
    it(`${type} text reproduces md5 ${md5}`, () => {
      assert.equal(ros1Type(type).md5sum, md5);
    });
  }

  it('ships the .msg text with the constants the link uses', () => {
    const jc = parse(readFileSync(join(interaMsgDir(), 'JointCommand.msg'), 'utf8'), { skipTypeFixup: true })[0]!;
    const constants = jc.definitions.filter((f) => f.isConstant).map((f) => `${f.name}=${String(f.value)}`);
    assert.deepEqual(constants, ['POSITION_MODE=1', 'VELOCITY_MODE=2', 'TORQUE_MODE=3', 'TRAJECTORY_MODE=4']);
  });

  it('full definition text lists each dependency once after an 80-character separator', () => {
    const text = ros1Type('intera_core_msgs/EndpointState').definitionText;
    const deps = [...text.matchAll(/^={80}\nMSG: (\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(deps, ['std_msgs/Header', 'geometry_msgs/Pose', 'geometry_msgs/Point', 'geometry_msgs/Quaternion',
      'geometry_msgs/Twist', 'geometry_msgs/Vector3', 'geometry_msgs/Wrench']);
  });

  it('a changed field changes the md5 (the check is real)', () => {
    const t = ros1Type('intera_core_msgs/JointCommand');
    assert.equal(md5(parse(t.definitionText.replace('# Joint command', '# A different comment'))), t.md5sum);
    assert.notEqual(md5(parse(t.definitionText.replace('int32 mode', 'int64 mode'))), t.md5sum);
  });
});
